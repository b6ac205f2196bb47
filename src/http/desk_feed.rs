//! After a desk write, the acting agent's desk connections hear of it: the new `intake` frame
//! (and the `customer` frame after a link, create or edit) through the desk hub, whether the
//! write came over the WebSocket or REST, so a tab sees what another tab or a script changed.

use crate::desk::hub::{DeskHub, FrameBody};
use crate::desk::intakes::IntakeView;
use crate::domain::{AgentId, CustomerId};
use crate::store::Customer;

/// Sends the changed intake to every connection of `agent`, then, with `refresh_customer`
/// (a link or a new customer changes who the pop shows), its customer.
pub(super) async fn intake_changed(
    hub: &DeskHub,
    agent: &AgentId,
    view: &IntakeView,
    refresh_customer: bool,
) {
    let customer = view.customer_id.clone().filter(|_| refresh_customer);
    publish(hub, agent, FrameBody::Intake(Box::new(view.clone()))).await;
    hub.changed_by(view, agent);
    if let Some(id) = customer {
        customer_id_changed(hub, agent, &id).await;
    }
}

/// Sends a customer's record to every connection of `agent`.
pub(super) async fn customer_changed(hub: &DeskHub, agent: &AgentId, customer: Customer) {
    publish(hub, agent, FrameBody::Customer(customer.into())).await;
}

async fn customer_id_changed(hub: &DeskHub, agent: &AgentId, id: &CustomerId) {
    match hub.store().get_customer(id).await {
        Ok(Some(c)) => customer_changed(hub, agent, c).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the customer for the desk"),
    }
}

async fn publish(hub: &DeskHub, agent: &AgentId, body: FrameBody) {
    if let Err(e) = hub.publish_to(agent.clone(), body).await {
        tracing::warn!(error = %e, "desk frame not published");
    }
}
