//! Request Tracker 5 over its REST 2.0 API (docs/integrations.md, "Request Tracker"): a ticket
//! per intake in the queue of its category, requestor the customer, priority mapped; a
//! resolution comments and resolves it, an escalation comments and moves it to the group's (or
//! the vendors') queue, a return moves it back. The ticket is found again by the `[FL-…]`
//! marker of its subject before one is created, so a retry after a lost answer never makes a
//! second ticket. A queue RT does not have, or a ticket deleted in RT, is refused with a clear
//! error, which the intake shows.

use std::time::Duration;

use serde_json::{Value, json};

use super::client::{Http, Response};
use super::config::{CreateOn, RtTarget, Secret, read_secret};
use super::retry::Outcome;
use super::ticket_text as text;
use super::wire;
use crate::store::{IntakeSnapshot, OutboxRow, Store, now_ms};

/// How RT is signed in to.
#[derive(Debug, Clone)]
enum Auth {
    Token(Secret),
    Basic(String, Secret),
}

/// One RT target.
#[derive(Debug)]
pub struct Rt {
    /// RT's web address without a trailing `/`.
    base: String,
    auth: Auth,
    http: Http,
    cfg: RtTarget,
    public_url: String,
}

/// A ticket the caller has open in RT (the screen pop).
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpenTicket {
    /// RT's id.
    pub id: String,
    /// Subject.
    pub subject: String,
    /// RT status.
    pub status: String,
    /// Link.
    pub url: String,
}

type Step<T> = Result<T, Outcome>;

/// The id in a REST 2.0 object (`"id": 12` or `"id": "12"`).
fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

impl Rt {
    /// The target of `cfg`, reading its token or password.
    pub fn new(cfg: &RtTarget, public_url: &str, timeout: Duration) -> Result<Rt, String> {
        let setting = format!("integrations.rt {}", cfg.name);
        let token = read_secret(
            cfg.token_env.as_deref(),
            cfg.token_file.as_deref(),
            &format!("{setting} token"),
        )?;
        let auth = match (token, &cfg.user) {
            (Some(t), _) => Auth::Token(t),
            (None, Some(user)) => {
                let pw = read_secret(
                    cfg.password_env.as_deref(),
                    cfg.password_file.as_deref(),
                    &format!("{setting} password"),
                )?
                .ok_or_else(|| {
                    format!("{setting}: user {user} needs password_env or password_file")
                })?;
                Auth::Basic(user.clone(), pw)
            }
            (None, None) => {
                return Err(format!(
                    "{setting}: set token_env/token_file, or user with password_env/password_file"
                ));
            }
        };
        Ok(Rt {
            base: cfg.url.trim_end_matches('/').to_owned(),
            auth,
            http: Http::new(cfg.ca_file.as_deref(), timeout)?,
            cfg: cfg.clone(),
            public_url: public_url.to_owned(),
        })
    }

    fn api(&self, path: &str) -> String {
        format!("{}/REST/2.0/{path}", self.base)
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::Token(t) => req.header(
                reqwest::header::AUTHORIZATION,
                format!("token {}", t.expose()),
            ),
            Auth::Basic(user, pw) => req.basic_auth(user, Some(pw.expose())),
        }
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> Step<Response> {
        self.http.send(self.authed(req)).await
    }

    /// `call`, with anything but 2xx ended by the status's outcome.
    async fn call_ok(&self, req: reqwest::RequestBuilder, what: &str) -> Step<Response> {
        self.call(req).await?.or_outcome("RT", what)
    }

    /// The ticket's link in RT's web interface.
    pub fn ticket_url(&self, id: &str) -> String {
        format!("{}/Ticket/Display.html?id={id}", self.base)
    }

    /// "Test delivery": our account can list the queues.
    pub async fn check(&self) -> Outcome {
        Response::checked(
            self.call_ok(
                self.http.client().get(self.api("queues/all")),
                "list queues",
            )
            .await,
        )
    }

    /// Delivers one intake event.
    pub async fn deliver(&self, row: &OutboxRow, store: &Store, target: &str) -> Outcome {
        match self.apply(row, store, target).await {
            Ok(()) => Outcome::Delivered { status: None },
            Err(o) => o,
        }
    }

    async fn apply(&self, row: &OutboxRow, store: &Store, target: &str) -> Step<()> {
        let Some(intake) = wire::intake_of(row) else {
            return Err(Outcome::refused(format!("{} carries no intake", row.kind)));
        };
        let known = store
            .external_ticket(&intake.id, target)
            .await
            .map_err(|e| Outcome::store_failed(&e))?;
        let known_id = known.as_ref().and_then(|t| t.ticket_ref.clone());
        let create = self.cfg.create_on == CreateOn::Intake;
        let id = match (row.kind.as_str(), known_id) {
            // Nothing to do until the outcome creates it.
            ("intake.created" | "intake.updated", None) if !create => return Ok(()),
            ("intake.created", Some(_)) => return Ok(()),
            ("intake.updated", Some(id)) => {
                self.live_ticket(&id).await?;
                let queue = self.queue_for(&intake);
                self.require_queue(&queue).await?;
                let body = json!({
                    "Subject": text::subject(&intake),
                    "Priority": self.priority(&intake),
                    "Queue": queue,
                });
                self.update(&id, &body).await?;
                return self
                    .clear_error(
                        store,
                        target,
                        known.as_ref().and_then(|k| k.error.as_ref()),
                        &intake,
                    )
                    .await;
            }
            (_, Some(id)) => {
                self.live_ticket(&id).await?;
                id
            }
            (_, None) => self.ensure(&intake, store, target).await?,
        };
        let detail = |key| wire::detail(row, key).unwrap_or(Value::Null);
        match row.kind.as_str() {
            "intake.created" | "intake.updated" => {}
            "intake.resolved" => {
                self.comment(&id, &text::resolved(&intake)).await?;
                self.update(&id, &json!({ "Status": "resolved" })).await?;
            }
            "intake.escalated" => {
                let d = detail("escalation");
                let to = d
                    .get("to_level")
                    .and_then(Value::as_i64)
                    .unwrap_or(intake.level);
                let group = d.get("target").and_then(Value::as_str).unwrap_or_default();
                let queue = if to == 3 {
                    self.cfg
                        .vendor_queue
                        .clone()
                        .unwrap_or_else(|| group.to_owned())
                } else {
                    self.cfg
                        .group_queues
                        .get(group)
                        .cloned()
                        .unwrap_or_else(|| group.to_owned())
                };
                self.require_queue(&queue).await?;
                self.comment(&id, &text::escalated(&intake, &d)).await?;
                self.update(&id, &json!({ "Queue": queue, "Status": "open" }))
                    .await?;
            }
            "intake.returned" => {
                let queue = self.first_level_queue(&intake);
                self.require_queue(&queue).await?;
                self.comment(&id, &text::returned(&intake, &detail("returned")))
                    .await?;
                self.update(&id, &json!({ "Queue": queue, "Status": "open" }))
                    .await?;
            }
            "intake.reopened" => {
                self.comment(&id, &text::reopened(&intake, &detail("reopened")))
                    .await?;
                self.update(&id, &json!({ "Status": "open" })).await?;
            }
            other => {
                return Err(Outcome::refused(format!(
                    "RT takes intake events, not {other}"
                )));
            }
        }
        self.clear_error(
            store,
            target,
            known.as_ref().and_then(|k| k.error.as_ref()),
            &intake,
        )
        .await
    }

    async fn clear_error(
        &self,
        store: &Store,
        target: &str,
        error: Option<&String>,
        intake: &IntakeSnapshot,
    ) -> Step<()> {
        if error.is_some() {
            store
                .set_external_ticket_error(&intake.id, target, None, now_ms())
                .await
                .map_err(|e| Outcome::store_failed(&e))?;
        }
        Ok(())
    }

    fn first_level_queue(&self, i: &IntakeSnapshot) -> String {
        self.cfg
            .queues
            .get(&i.category, &self.cfg.default_queue)
            .to_owned()
    }

    /// The queue the intake belongs in now: its category's at level 1, its group's above.
    fn queue_for(&self, i: &IntakeSnapshot) -> String {
        match (i.level, &i.group) {
            (3, Some(g)) => self.cfg.vendor_queue.clone().unwrap_or_else(|| g.clone()),
            (2, Some(g)) => self
                .cfg
                .group_queues
                .get(g)
                .cloned()
                .unwrap_or_else(|| g.clone()),
            _ => self.first_level_queue(i),
        }
    }

    fn priority(&self, i: &IntakeSnapshot) -> i64 {
        self.cfg.priorities[text::priority_index(i.priority)]
    }

    /// The intake's ticket: found by its subject marker (a retry after a lost answer), else
    /// created; stored on the intake either way.
    async fn ensure(&self, i: &IntakeSnapshot, store: &Store, target: &str) -> Step<String> {
        let found = match text::marker(i) {
            Some(m) => self.find_by_marker(&m).await?,
            None => None,
        };
        let id = match found {
            Some(id) => id,
            None => self.create(i).await?,
        };
        store
            .save_external_ticket(
                &i.id,
                target,
                &id,
                &id,
                Some(&self.ticket_url(&id)),
                now_ms(),
            )
            .await
            .map_err(|e| Outcome::store_failed(&e))?;
        Ok(id)
    }

    async fn find_by_marker(&self, marker: &str) -> Step<Option<String>> {
        let query = format!("Subject LIKE '{marker}'");
        let req = self.http.client().get(self.api("tickets")).query(&[
            ("query", query.as_str()),
            ("orderby", "id"),
            ("order", "ASC"),
        ]);
        let resp = self.call_ok(req, "search tickets").await?;
        let v = resp.json()?;
        Ok(v.get("items")
            .and_then(Value::as_array)
            .and_then(|items| items.first())
            .and_then(id_of))
    }

    async fn create(&self, i: &IntakeSnapshot) -> Step<String> {
        let queue = self.queue_for(i);
        self.require_queue(&queue).await?;
        let link = wire::intake_link(&self.public_url, &i.id);
        let body = json!({
            "Queue": queue,
            "Subject": text::subject(i),
            "Requestor": text::requester(i, &self.cfg.placeholder_email),
            "Priority": self.priority(i),
            "Content": text::description(i, &link),
            "ContentType": "text/plain",
        });
        let req = self.http.client().post(self.api("ticket")).json(&body);
        let resp = self.call_ok(req, "create the ticket").await?;
        id_of(&resp.json()?).ok_or_else(|| {
            Outcome::refused(format!(
                "RT created a ticket but its answer has no id: {}",
                resp.body.trim()
            ))
        })
    }

    /// Refuses (clearly) a queue RT does not have: renamed or never created.
    async fn require_queue(&self, queue: &str) -> Step<()> {
        let path = format!("queue/{}", urlencode(queue));
        let resp = self.call(self.http.client().get(self.api(&path))).await?;
        match resp.status {
            200 => Ok(()),
            404 => Err(Outcome::Refused {
                status: Some(404),
                error: format!(
                    "RT has no queue {queue:?} (renamed or removed in RT? check [[integrations.rt]] queues)"
                ),
            }),
            _ => Err(resp.outcome()),
        }
    }

    /// Refuses a ticket RT no longer has or has deleted.
    async fn live_ticket(&self, id: &str) -> Step<()> {
        let resp = self
            .call(self.http.client().get(self.api(&format!("ticket/{id}"))))
            .await?;
        match resp.status {
            200 => {
                let status = resp
                    .json()?
                    .get("Status")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if status.as_deref() == Some("deleted") {
                    return Err(Outcome::refused(format!("ticket {id} was deleted in RT")));
                }
                Ok(())
            }
            404 => Err(Outcome::Refused {
                status: Some(404),
                error: format!("ticket {id} no longer exists in RT"),
            }),
            _ => Err(resp.outcome()),
        }
    }

    async fn comment(&self, id: &str, body: &str) -> Step<()> {
        let req = self
            .http
            .client()
            .post(self.api(&format!("ticket/{id}/comment")))
            .json(&json!({ "Content": body, "ContentType": "text/plain" }));
        self.call_ok(req, "comment on the ticket").await.map(drop)
    }

    /// Sets fields; RT answers 200 with one message per change, failures included, so a
    /// message that is not a "changed" is refused.
    async fn update(&self, id: &str, body: &Value) -> Step<()> {
        let req = self
            .http
            .client()
            .put(self.api(&format!("ticket/{id}")))
            .json(body);
        let resp = self.call_ok(req, "update the ticket").await?;
        let messages = resp.json()?;
        let failed: Vec<&str> = messages
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            // Done: "Ticket 7: Queue changed from Hardware to Software", "… changed to …";
            // anything else ("Queue Nope does not exist", "Permission Denied", "isn't a valid
            // status") is a change RT did not make.
            .filter(|m| !m.contains(" changed from ") && !m.contains(" changed to "))
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Outcome::refused(format!(
                "RT did not apply {body}: {}",
                failed.join("; ")
            )))
        }
    }

    /// The tickets `email` has open in RT (new, open, stalled), newest first, at most `limit`.
    pub async fn open_tickets(&self, email: &str, limit: usize) -> Result<Vec<OpenTicket>, String> {
        if email.contains('\'') || email.contains('\\') {
            return Ok(Vec::new());
        }
        let query = format!(
            "Requestor.EmailAddress = '{email}' AND (Status = 'new' OR Status = 'open' OR Status = 'stalled')"
        );
        let per_page = limit.to_string();
        let req = self.http.client().get(self.api("tickets")).query(&[
            ("query", query.as_str()),
            ("orderby", "id"),
            ("order", "DESC"),
            ("per_page", per_page.as_str()),
            ("fields", "Subject,Status"),
        ]);
        let resp = self
            .call_ok(req, "search tickets")
            .await
            .map_err(|o| describe(&o))?;
        let v = resp.json().map_err(|o| describe(&o))?;
        Ok(v.get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let id = id_of(t)?;
                Some(OpenTicket {
                    url: self.ticket_url(&id),
                    subject: t
                        .get("Subject")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    status: t
                        .get("Status")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    id,
                })
            })
            .take(limit)
            .collect())
    }
}

/// An outcome as one line.
pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Delivered { status } => format!("ok ({status:?})"),
        Outcome::Retry { error, .. } | Outcome::Refused { error, .. } => error.clone(),
    }
}

/// Percent-encodes a path segment (queue names have spaces).
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
