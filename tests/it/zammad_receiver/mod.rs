//! A strict stand-in for Zammad, the ticket system, inside the test process: the generic CTI
//! endpoint the PBX side calls and the REST calls a helpdesk integration makes (tickets, articles,
//! users), each checked field by field against Zammad's published documentation and source.
//!
//! Zammad cannot be installed on the test machine, so the integration tests run against this
//! receiver. It is written from the docs independently of firstline's adapter: a second reading,
//! so the adapter is held to the documented shapes rather than to its own idea of them. Every
//! deviation becomes a [`Violation`] (answered with the status Zammad would give, where Zammad
//! would refuse); a test ends with `receiver.assert_no_violations()`. docs/zammad.md lists each
//! rule with its source.
//!
//! The parts: `types.rs` (what a test configures and reads back), `receiver.rs` (the
//! [`ZammadReceiver`] handle), `handler.rs` (one request: faults, violations, routing, error
//! bodies), `cti.rs` (the CTI endpoint), `rest.rs` (REST routes and authentication), `checks.rs`
//! (lookup tables and body checks the REST endpoints share), `tickets.rs`, `articles.rs`,
//! `users.rs`, `render.rs` (the JSON answers), `encoding.rs` (form and multipart bodies) and
//! `self_test/`.

// The API is for the adapter's tests; not every item is used by every test.
#![allow(dead_code)]

mod articles;
mod checks;
mod cti;
mod encoding;
mod handler;
mod receiver;
mod render;
mod rest;
mod self_test;
mod tickets;
mod types;
mod users;

pub(crate) use receiver::ZammadReceiver;
pub(crate) use types::{
    Article, CtiEncoding, CtiEvent, CtiEventKind, Direction, Duplicate, HangupCause, KnownCustomer,
    Received, Ticket, User, Violation, ZammadConfig,
};

use self_test::{
    cti_departures, cti_documented, faults_and_idempotency, rest_departures, rest_documented,
};

use crate::helpers::within;

#[tokio::test]
async fn zammad_receiver_is_strict() {
    within(60, async {
        let mut cfg = ZammadConfig::default();
        let ada =
            KnownCustomer::new("ada@example.com", "+49 30 5557 1600").named("Ada", "Lovelace");
        cfg.customers.push(ada);
        cfg.blocked_caller_ids.push("4930999".into());
        cfg.outbound_caller_id = Some("496990009111".into());
        let z = ZammadReceiver::start(cfg).await;
        let token = &z.config().cti_token;
        assert_eq!(
            z.cti_url(),
            format!("http://{}/api/v1/cti/{token}", z.addr())
        );

        cti_documented(&z).await;
        z.assert_no_violations();
        cti_departures(&z).await;
        rest_documented(&z).await;
        z.assert_no_violations();
        rest_departures(&z).await;
        faults_and_idempotency(&z).await;
        z.assert_no_violations();
    })
    .await;
}
