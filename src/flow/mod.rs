//! The login flow: [`Start`] builds the provider URL and a [`PendingLogin`];
//! [`Callback`] carries the browser's return; the [`Client`](crate::Client)
//! finishes the login with both.

mod callback;
mod logout;
mod refresh;
mod start;
mod step_up;

pub use callback::Callback;
pub use logout::ProviderLogout;
pub use start::{PendingLogin, Start};
pub use step_up::StepUp;

pub(crate) use callback::{CallbackRules, check_callback, check_tokens_issuer};
pub(crate) use logout::end_session_url;
pub(crate) use refresh::{check_refreshed, original_claims};
#[cfg(feature = "axum")]
pub(crate) use start::safe_return_to;
pub(crate) use start::{authorization_url, check_prompt};
