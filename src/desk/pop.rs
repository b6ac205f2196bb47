//! Screen pop: everything the desk shows when an agent's phone starts ringing, built from the
//! store in two rounds of queries (the call row, then customer, draft, open intakes and voice
//! message at once), so it reaches the agent within milliseconds of `call_offered`.

use serde::Serialize;
use sqlx::Row as _;

use super::intakes::{DeskError, IntakeOps, IntakeView};
use crate::domain::{CallId, Category, CustomerId, Language, Priority};
use crate::store::{Customer, Store, StoreError};

/// Where the call shown in a pop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The agent's phone rings.
    Ringing,
    /// The agent answered; caller and agent talk.
    Connected,
    /// The call ended; the pop stays until its intake has an outcome or the next call.
    Ended,
}

/// A customer as the pop shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerView {
    /// `customers.id`.
    pub id: CustomerId,
    /// Full name.
    pub name: String,
    /// Company or institution.
    pub organisation: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Main number (E.164).
    pub phone: Option<String>,
    /// Site, building or room.
    pub location: Option<String>,
    /// Notes for agents.
    pub notes: Option<String>,
    /// The fields the company directory or an import owns (the desk marks them).
    pub synced_fields: Vec<String>,
}

impl From<Customer> for CustomerView {
    fn from(c: Customer) -> Self {
        CustomerView {
            id: c.id,
            name: c.name,
            organisation: c.organisation,
            department: c.department,
            email: c.email,
            phone: c.phone,
            location: c.location,
            notes: c.notes,
            synced_fields: c.synced_fields,
        }
    }
}

/// A voice message left while waiting, playable from `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoiceMessageView {
    /// `voice_messages.id`.
    pub id: String,
    /// `/api/voice/{id}` (WAV, session required).
    pub url: String,
    /// Length.
    pub duration_ms: i64,
}

/// The screen pop (docs/protocol.md, frame `pop`).
#[derive(Debug, Clone, Serialize)]
pub struct Pop {
    /// The call.
    pub call_id: CallId,
    /// Ringing, connected or ended.
    pub phase: Phase,
    /// The caller's number, E.164 when it could be normalised.
    pub caller: String,
    /// The identified customer.
    pub customer: Option<CustomerView>,
    /// Customers sharing the caller's number when it identifies nobody for sure.
    pub candidates: Vec<CustomerView>,
    /// Queue category (from the IVR, or as a supervisor moved it).
    pub category: Option<Category>,
    /// Priority chosen in the IVR.
    pub priority: Option<Priority>,
    /// Language the caller was served in.
    pub language: Option<Language>,
    /// The IVR path of the draft intake.
    pub ivr_path: String,
    /// DTMF modes used (`rfc4733,info,inband`).
    pub dtmf_mode: Option<String>,
    /// Time in the queue until the offer (or since arrival when never queued), as of the pop's
    /// build (kept for old clients; `queued_at`… are the times to compute from).
    pub waited_ms: i64,
    /// Epoch ms the caller entered the queue (arrival when never queued).
    pub queued_at: i64,
    /// Epoch ms of the offer to this agent (the `call_offered` event).
    pub offered_at: i64,
    /// Epoch ms the agent answered; `None` until then.
    pub connected_at: Option<i64>,
    /// Epoch ms the call ended; `None` until then.
    pub ended_at: Option<i64>,
    /// The draft intake written at the end of the IVR.
    pub intake: Option<IntakeView>,
    /// The caller's other draft, open and escalated intakes, newest first.
    pub open_intakes: Vec<IntakeView>,
    /// The voice message, if one was left.
    pub voice_message: Option<VoiceMessageView>,
    /// This agent handed the call to a colleague or a queue (their part is over: the intake's
    /// outcome is the new owner's, so wrap-up may end without one).
    #[serde(default)]
    pub handed_over: bool,
}

/// Why a pop could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PopError {
    /// The call row does not exist.
    #[error("call {0} not found")]
    CallNotFound(CallId),
    /// A query failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An intake query failed.
    #[error(transparent)]
    Desk(#[from] DeskError),
}

/// The columns of `calls` a pop needs.
struct CallPart {
    caller: String,
    customer_id: Option<CustomerId>,
    category: Option<Category>,
    priority: Option<Priority>,
    language: Option<Language>,
    dtmf_mode: Option<String>,
    waited_from: i64,
    connected_at: Option<i64>,
    ended_at: Option<i64>,
}

fn query_error(op: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { op, source }
}

async fn call_part(store: &Store, id: &CallId) -> Result<Option<CallPart>, StoreError> {
    const OP: &str = "pop_call";
    let Some(row) = sqlx::query(
        "SELECT caller, customer_id, category, priority, language, dtmf_mode, arrived_at, \
         queued_at, connected_at, ended_at FROM calls WHERE id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await
    .map_err(query_error(OP))?
    else {
        return Ok(None);
    };
    let get_s = |col: &str| {
        row.try_get::<Option<String>, _>(col)
            .map_err(query_error(OP))
    };
    let priority: Option<i64> = row.try_get("priority").map_err(query_error(OP))?;
    let arrived: i64 = row.try_get("arrived_at").map_err(query_error(OP))?;
    let queued: Option<i64> = row.try_get("queued_at").map_err(query_error(OP))?;
    let connected_at: Option<i64> = row.try_get("connected_at").map_err(query_error(OP))?;
    let ended_at: Option<i64> = row.try_get("ended_at").map_err(query_error(OP))?;
    Ok(Some(CallPart {
        caller: get_s("caller")?.unwrap_or_default(),
        customer_id: get_s("customer_id")?.map(CustomerId::from_string),
        // Unknown stored values show as "not chosen" rather than failing the whole pop.
        category: get_s("category")?.and_then(|c| c.parse().ok()),
        priority: priority
            .and_then(|p| u8::try_from(p).ok())
            .and_then(Priority::new),
        language: get_s("language")?.and_then(|l| l.parse().ok()),
        dtmf_mode: get_s("dtmf_mode")?,
        waited_from: queued.unwrap_or(arrived),
        connected_at,
        ended_at,
    }))
}

/// The caller's number and customer name of `call` (`None`: no such call), for frames and
/// audit entries that name the caller without a whole pop.
pub(crate) async fn caller_of(
    store: &Store,
    call: &CallId,
) -> Result<Option<(String, Option<String>)>, StoreError> {
    store.synced().await;
    let Some(part) = call_part(store, call).await? else {
        return Ok(None);
    };
    let name = match &part.customer_id {
        Some(id) => store.get_customer(id).await?.map(|c| c.name),
        None => None,
    };
    Ok(Some((part.caller, name)))
}

/// The newest voice message left on `call`.
async fn voice_message(
    store: &Store,
    call: &CallId,
) -> Result<Option<VoiceMessageView>, StoreError> {
    const OP: &str = "pop_voice_message";
    let row = sqlx::query(
        "SELECT id, duration_ms FROM voice_messages WHERE call_id = $1 \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(call.as_str())
    .fetch_optional(store.pool())
    .await
    .map_err(query_error(OP))?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("id").map_err(query_error(OP))?;
    Ok(Some(VoiceMessageView {
        url: format!("/api/voice/{id}"),
        duration_ms: row.try_get("duration_ms").map_err(query_error(OP))?,
        id,
    }))
}

/// The WAV file of voice message `id`, for `/api/voice/{id}`.
pub(crate) async fn voice_message_path(
    store: &Store,
    id: &str,
) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT path FROM voice_messages WHERE id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await
        .map_err(query_error("voice_message_path"))
}

/// The customer, or the candidates when the number is shared (or the customer was added since).
async fn customers(
    store: &Store,
    id: Option<&CustomerId>,
    caller: &str,
) -> Result<(Option<CustomerView>, Vec<CustomerView>), StoreError> {
    if let Some(id) = id {
        return Ok((store.get_customer(id).await?.map(Into::into), Vec::new()));
    }
    if caller.is_empty() {
        return Ok((None, Vec::new()));
    }
    let mut found = store.customers_by_phone(caller).await?;
    if found.len() == 1 {
        return Ok((found.pop().map(Into::into), Vec::new()));
    }
    Ok((None, found.into_iter().map(Into::into).collect()))
}

/// Builds the pop for `call` as of `now_ms` (epoch ms, also its `offered_at` until the hub sets
/// the offer's own time), phase `ringing`.
pub(crate) async fn build(
    store: &Store,
    ops: &IntakeOps,
    call: &CallId,
    now_ms: i64,
) -> Result<Pop, PopError> {
    // The call's row and its intake come through the journal: wait for what was handed in.
    store.synced().await;
    let part = call_part(store, call)
        .await?
        .ok_or_else(|| PopError::CallNotFound(call.clone()))?;
    let open = async {
        match &part.customer_id {
            Some(c) => ops.open_for_customer(c).await,
            None => Ok(Vec::new()),
        }
    };
    let (people, draft, open, voice) = tokio::join!(
        customers(store, part.customer_id.as_ref(), &part.caller),
        ops.for_call(call),
        open,
        voice_message(store, call),
    );
    let (customer, candidates) = people?;
    let draft = draft?;
    let open_intakes = open?
        .into_iter()
        .filter(|i| draft.as_ref().is_none_or(|d| d.id != i.id))
        .collect();
    let category = part.category.or(draft.as_ref().map(|d| d.category));
    let priority = part.priority.or(draft.as_ref().and_then(|d| d.priority));
    let language = part.language.or(draft.as_ref().and_then(|d| d.language));
    let dtmf_mode = draft
        .as_ref()
        .and_then(|d| d.dtmf_mode.clone())
        .or(part.dtmf_mode);
    Ok(Pop {
        call_id: call.clone(),
        phase: Phase::Ringing,
        caller: part.caller,
        customer,
        candidates,
        category,
        priority,
        language,
        ivr_path: draft
            .as_ref()
            .map(|d| d.ivr_path.clone())
            .unwrap_or_default(),
        dtmf_mode,
        waited_ms: now_ms.saturating_sub(part.waited_from).max(0),
        queued_at: part.waited_from,
        offered_at: now_ms,
        connected_at: part.connected_at,
        ended_at: part.ended_at,
        intake: draft,
        open_intakes,
        voice_message: voice?,
        handed_over: false,
    })
}
