//! What an unauthenticated caller can make us store, bounded (issue 11): one open callback per
//! number, voice messages capped in length and in number per caller per day (`[call]`).
//!
//! The `calls` row itself is written only for an INVITE whose SDP we can answer (`call::run`).

use std::time::Duration;

use super::CallContext;
use crate::store::{CallbackInsert, NewCallback, StoreError, now_ms};

/// The window the voice-message count runs over.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The longest voice message recorded (`call.max_voice_message_secs`).
pub(crate) fn max_voice_message(ctx: &CallContext) -> Duration {
    Duration::from_secs(ctx.call.max_voice_message_secs.max(1))
}

/// Stores the callback request unless the number already has one open.
pub(crate) async fn store_callback(
    ctx: &CallContext,
    cb: &NewCallback,
) -> Result<CallbackInsert, StoreError> {
    let r = ctx.store.insert_callback_once(cb).await;
    if let Ok(CallbackInsert::AlreadyOpen(id)) = &r {
        tracing::info!(callback = %id, "callback already open for this number; not stored again");
    }
    r
}

/// Whether `number` may leave another voice message: fewer than
/// `call.max_voice_messages_per_day` in the last 24 hours. A store that cannot answer says no
/// (the message could not be stored either).
pub(crate) async fn voice_message_allowed(ctx: &CallContext, number: &str) -> bool {
    let cap = i64::from(ctx.call.max_voice_messages_per_day);
    match ctx
        .store
        .voice_messages_from(number, now_ms() - DAY_MS)
        .await
    {
        Ok(n) if n < cap => true,
        Ok(n) => {
            tracing::info!(
                count = n,
                cap,
                "voice message refused: daily cap for this number"
            );
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot count voice messages; refusing another");
            false
        }
    }
}
