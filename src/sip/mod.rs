//! SIP layer.
