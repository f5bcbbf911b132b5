//! The login flow: [`Start`] builds the provider URL and a [`PendingLogin`];
//! [`Callback`] carries the browser's return; the [`Client`](crate::Client)
//! finishes the login with both.

mod callback;
mod logout;
mod start;

pub use callback::Callback;
pub use logout::ProviderLogout;
pub use start::{PendingLogin, Start};

pub(crate) use logout::end_session_url;
pub(crate) use start::authorization_url;
#[cfg(feature = "axum")]
pub(crate) use start::safe_return_to;
