//! Request handlers, one module per area of the API.

pub mod auth;
pub mod automation;
pub mod content;
pub mod incidents;
pub mod integrations;
pub mod login;
pub mod playbooks;
pub mod system;
pub mod war_room;
