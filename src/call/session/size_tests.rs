//! Guards the memory of a held call (issue 12 item 6): the call task's future and state stay
//! small, and what only some calls need (agent leg, browser peer, SRTP) is boxed.

use std::future::Future;
use std::mem::size_of;
use std::sync::Arc;

use super::Session;
use crate::call::{CallContext, SetupGuard};
use crate::sip::IncomingCall;

/// The size of the future an async fn of this shape returns (without calling it).
fn future_size<F, Fut>(_: F) -> usize
where
    F: FnOnce(Arc<CallContext>, IncomingCall, SetupGuard) -> Fut,
    Fut: Future,
{
    size_of::<Fut>()
}

#[test]
fn call_task_future_and_state_stay_small() {
    let future = future_size(crate::call::run);
    let session = size_of::<Session>();
    println!("call::run future {future} B, Session {session} B");
    // Measured (debug build) after boxing the agent leg: see BENCHMARKS.md "Issue 12: memory
    // per call". It was 46,488 B and 11,920 B with the browser peer inline.
    assert!(future <= 12 * 1024, "call task future is {future} B");
    assert!(session <= 2 * 1024, "Session is {session} B");
    assert!(size_of::<Option<Box<super::agent::AgentCall>>>() <= 8);
    assert!(size_of::<crate::webrtc::BrowserPeer>() <= 256);
}
