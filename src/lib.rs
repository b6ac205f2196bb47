//! firstline: a telephony server for IT helpdesk hotlines (library root).
