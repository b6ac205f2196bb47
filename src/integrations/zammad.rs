//! Zammad (docs/zammad.md): the Generic CTI events, so Zammad's caller log and its own pop
//! point at the right agent (`newCall` when a call arrives, `answer` with the agent's extension
//! as `answeringNumber`, `hangup` with the cause mapped to Zammad's values), and a ticket per
//! intake over the REST API (article type `phone`, group from category and level, priority
//! mapped, a note per resolution or escalation, `closed` on resolve). Zammad cannot be
//! installed here: the tests run against a receiver that checks its documented shapes
//! (tests/it/zammad_receiver.rs).

use std::time::Duration;

use serde_json::{Value, json};

use super::client::{Http, Response};
use super::config::{CreateOn, Secret, ZammadTarget, read_secret};
use super::retry::Outcome;
use super::ticket_text as text;
use super::wire;
use crate::domain::{AgentId, CallId};
use crate::store::{IntakeSnapshot, OutboxRow, Store, now_ms};

/// One Zammad target.
#[derive(Debug)]
pub struct Zammad {
    /// Zammad's address without a trailing `/`.
    base: String,
    token: Option<Secret>,
    cti_url: Option<Secret>,
    http: Http,
    cfg: ZammadTarget,
    public_url: String,
}

type Step<T> = Result<T, Outcome>;

/// Zammad's hangup `cause` for a call's outcome.
pub fn hangup_cause(outcome: &str) -> &'static str {
    match outcome {
        "answered" | "callback" | "voice_message" => "normalClearing",
        "cancelled" | "abandoned_ivr" | "abandoned_queue" => "cancel",
        "max_wait" => "noAnswer",
        "rejected" => "busy",
        _ => "congestion",
    }
}

impl Zammad {
    /// The target of `cfg`, reading its token and CTI endpoint.
    pub fn new(cfg: &ZammadTarget, public_url: &str, timeout: Duration) -> Result<Zammad, String> {
        let setting = format!("integrations.zammad {}", cfg.name);
        let token = read_secret(
            cfg.token_env.as_deref(),
            cfg.token_file.as_deref(),
            &format!("{setting} token"),
        )?;
        let cti_url = read_secret(
            cfg.cti_url_env.as_deref(),
            cfg.cti_url_file.as_deref(),
            &format!("{setting} cti_url"),
        )?;
        if cfg.tickets && token.is_none() {
            return Err(format!("{setting}: tickets need token_env or token_file"));
        }
        if token.is_none() && cti_url.is_none() {
            return Err(format!(
                "{setting}: set a token (tickets) or a CTI endpoint, or both"
            ));
        }
        Ok(Zammad {
            base: cfg.url.trim_end_matches('/').to_owned(),
            token,
            cti_url,
            http: Http::new(cfg.ca_file.as_deref(), timeout)?,
            cfg: cfg.clone(),
            public_url: public_url.to_owned(),
        })
    }

    /// The event kinds it takes: the calls for the CTI, the intakes for tickets.
    pub fn events(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.cti_url.is_some() {
            e.extend(["call.arrived", "call.answered", "call.ended"].map(str::to_owned));
        }
        if self.cfg.tickets {
            e.push("intake.*".to_owned());
        }
        e
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.base)
    }

    async fn call(&self, req: reqwest::RequestBuilder, what: &str) -> Step<Response> {
        let req = match &self.token {
            Some(t) => req.header(
                reqwest::header::AUTHORIZATION,
                format!("Token token={}", t.expose()),
            ),
            None => req,
        };
        self.http.send(req).await?.or_outcome("Zammad", what)
    }

    /// "Test delivery": the token's own user (tickets), else an empty CTI request is not sent.
    pub async fn check(&self) -> Outcome {
        if self.token.is_none() {
            return Outcome::refused(
                "no API token configured: only the CTI events are sent".to_owned(),
            );
        }
        Response::checked(
            self.call(
                self.http.client().get(self.api("users/me")),
                "read our user",
            )
            .await,
        )
    }

    /// Delivers one row.
    pub async fn deliver(&self, row: &OutboxRow, store: &Store, target: &str) -> Outcome {
        let done = if row.kind.starts_with("call.") {
            self.cti(row, store).await
        } else {
            self.ticket(row, store, target).await
        };
        match done {
            Ok(()) => Outcome::Delivered { status: None },
            Err(o) => o,
        }
    }

    /// One Generic CTI event (JSON, the endpoint's token in its URL).
    async fn cti(&self, row: &OutboxRow, store: &Store) -> Step<()> {
        let Some(url) = &self.cti_url else {
            return Ok(());
        };
        let data = wire::data(row, "");
        let call_id = data
            .get("call_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let call = store
            .get_call(&CallId::from_string(call_id))
            .await
            .map_err(|e| Outcome::store_failed(&e))?;
        let from = data
            .get("caller")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| call.as_ref().map(|c| c.caller.clone()))
            .unwrap_or_default();
        let mut body = json!({
            "from": from, "to": self.cfg.hotline_number, "direction": "in", "callId": call_id,
        });
        let obj = body
            .as_object_mut()
            .ok_or_else(|| Outcome::refused("not an object".to_owned()))?;
        match row.kind.as_str() {
            "call.arrived" => {
                obj.insert("event".into(), json!("newCall"));
            }
            "call.answered" => {
                obj.insert("event".into(), json!("answer"));
                let agent = data
                    .get("agent_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let agent = store
                    .get_agent(&AgentId::from_string(agent))
                    .await
                    .map_err(|e| Outcome::store_failed(&e))?;
                if let Some(a) = agent {
                    obj.insert("user".into(), json!(a.name));
                    if let Some(ext) = a.extension {
                        obj.insert("answeringNumber".into(), json!(ext));
                    }
                }
            }
            "call.ended" => {
                obj.insert("event".into(), json!("hangup"));
                let outcome = data
                    .get("outcome")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                obj.insert("cause".into(), json!(hangup_cause(outcome)));
            }
            _ => return Ok(()),
        }
        let req = self.http.client().post(url.expose()).json(&body);
        // No token header: the CTI endpoint's token is in its URL.
        let resp = self.http.send(req).await?;
        if resp.ok() {
            Ok(())
        } else {
            Err(resp.outcome())
        }
    }

    fn group_for(&self, i: &IntakeSnapshot) -> String {
        match (i.level, &i.group) {
            (3, Some(g)) => self.cfg.vendor_group.clone().unwrap_or_else(|| g.clone()),
            (2, Some(g)) => self
                .cfg
                .level2_groups
                .get(g)
                .cloned()
                .unwrap_or_else(|| g.clone()),
            _ => self
                .cfg
                .groups
                .get(&i.category, &self.cfg.default_group)
                .to_owned(),
        }
    }

    fn priority(&self, i: &IntakeSnapshot) -> &str {
        &self.cfg.priorities[text::priority_index(i.priority)]
    }

    /// The ticket's link in Zammad.
    fn ticket_url(&self, id: &str) -> String {
        format!("{}/#ticket/zoom/{id}", self.base)
    }

    async fn ticket(&self, row: &OutboxRow, store: &Store, target: &str) -> Step<()> {
        let Some(intake) = wire::intake_of(row) else {
            return Err(Outcome::refused(format!("{} carries no intake", row.kind)));
        };
        let known = store
            .external_ticket(&intake.id, target)
            .await
            .map_err(|e| Outcome::store_failed(&e))?;
        let create = self.cfg.create_on == CreateOn::Intake;
        let id = match (
            row.kind.as_str(),
            known.as_ref().and_then(|k| k.ticket_ref.clone()),
        ) {
            ("intake.created" | "intake.updated", None) if !create => return Ok(()),
            ("intake.created", Some(_)) => return Ok(()),
            (_, Some(id)) => {
                self.live(&id).await?;
                id
            }
            (_, None) => self.create(&intake, store, target, &row.event_id).await?,
        };
        let detail = |key| wire::detail(row, key).unwrap_or(Value::Null);
        let (note, fields) = match row.kind.as_str() {
            "intake.created" => (None, None),
            "intake.updated" => (
                None,
                Some(
                    json!({ "title": text::subject(&intake), "group": self.group_for(&intake),
                    "priority": self.priority(&intake) }),
                ),
            ),
            "intake.resolved" => (
                Some(text::resolved(&intake)),
                Some(json!({ "state": "closed" })),
            ),
            "intake.escalated" => (
                Some(text::escalated(&intake, &detail("escalation"))),
                Some(json!({ "group": self.group_for(&intake), "state": "open" })),
            ),
            "intake.returned" => (
                Some(text::returned(&intake, &detail("returned"))),
                Some(json!({ "group": self.group_for(&intake), "state": "open" })),
            ),
            "intake.reopened" => (
                Some(text::reopened(&intake, &detail("reopened"))),
                Some(json!({ "state": "open" })),
            ),
            other => {
                return Err(Outcome::refused(format!(
                    "Zammad takes intake and call events, not {other}"
                )));
            }
        };
        if let Some(note) = note {
            let body = json!({ "ticket_id": id.parse::<u64>().unwrap_or_default(), "body": note,
                "type": "note", "internal": true, "content_type": "text/plain" });
            let req = self
                .http
                .client()
                .post(self.api("ticket_articles"))
                .json(&body);
            self.call(req, "add a note").await?;
        }
        if let Some(fields) = fields {
            let req = self
                .http
                .client()
                .put(self.api(&format!("tickets/{id}")))
                .json(&fields);
            self.call(req, "update the ticket").await?;
        }
        if known.as_ref().is_some_and(|k| k.error.is_some()) {
            store
                .set_external_ticket_error(&intake.id, target, None, now_ms())
                .await
                .map_err(|e| Outcome::store_failed(&e))?;
        }
        Ok(())
    }

    /// Refuses a ticket Zammad no longer has.
    async fn live(&self, id: &str) -> Step<()> {
        let req = self.http.client().get(self.api(&format!("tickets/{id}")));
        match self.call(req, "read the ticket").await {
            Err(Outcome::Refused {
                status: Some(404), ..
            }) => Err(Outcome::Refused {
                status: Some(404),
                error: format!("ticket {id} no longer exists in Zammad"),
            }),
            other => other.map(drop),
        }
    }

    async fn create(
        &self,
        i: &IntakeSnapshot,
        store: &Store,
        target: &str,
        key: &str,
    ) -> Step<String> {
        let link = wire::intake_link(&self.public_url, &i.id);
        let body = json!({
            "title": text::subject(i),
            "group": self.group_for(i),
            "customer_id": format!("guess:{}", text::requester(i, &self.cfg.placeholder_email)),
            "state": "new",
            "priority": self.priority(i),
            "article": {
                "subject": text::subject(i),
                "body": text::description(i, &link),
                "type": "phone",
                "sender": "Customer",
                "internal": false,
                "content_type": "text/plain",
            },
        });
        let req = self
            .http
            .client()
            .post(self.api("tickets"))
            .header(super::webhook::IDEMPOTENCY_KEY, key)
            .json(&body);
        let resp = self.call(req, "create the ticket").await?;
        let v = resp.json()?;
        let id = match v.get("id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(Outcome::refused(format!(
                    "Zammad's answer has no ticket id: {}",
                    resp.body.trim()
                )));
            }
        };
        let number = v
            .get("number")
            .and_then(Value::as_str)
            .unwrap_or(&id)
            .to_owned();
        store
            .save_external_ticket(
                &i.id,
                target,
                &id,
                &number,
                Some(&self.ticket_url(&id)),
                now_ms(),
            )
            .await
            .map_err(|e| Outcome::store_failed(&e))?;
        Ok(id)
    }
}
