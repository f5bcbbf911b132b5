//! The client's address, by which the break-glass route counts failures:
//! the connection's peer (axum's `ConnectInfo`), or what the app's own
//! function reads (behind a proxy).

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ::axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use ::axum::http::request::Parts;

type AddressFn = dyn Fn(&Parts) -> Option<IpAddr> + Send + Sync;

/// How to learn the client's address: the app's function, or the peer.
#[derive(Clone, Default)]
pub(crate) struct ClientAddressFn(Option<Arc<AddressFn>>);

impl fmt::Debug for ClientAddressFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Some(_) => "ClientAddressFn(the app's)",
            None => "ClientAddressFn(the connection's peer)",
        })
    }
}

impl ClientAddressFn {
    pub(crate) fn new(address: impl Fn(&Parts) -> Option<IpAddr> + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(address)))
    }

    fn address(&self, parts: &Parts) -> Option<IpAddr> {
        match &self.0 {
            Some(address) => address(parts),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip()),
        }
    }
}

/// The request's client address, `None` when it is not known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddress(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress
where
    ClientAddressFn: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let how = ClientAddressFn::from_ref(state);
        let address = how.address(parts);
        match (address, how.0.is_some()) {
            (Some(_), _) => {}
            (None, true) => tracing::warn!(
                target: "oidc_login::axum",
                "the app's `LoginRoutes::client_address` found no client address: break-glass failures of unknown address all count as from one address"
            ),
            (None, false) => tracing::warn!(
                target: "oidc_login::axum",
                "the client's address is unknown: break-glass failures of unknown address all count as from one address; serve the app with `into_make_service_with_connect_info::<SocketAddr>()`, or set `LoginRoutes::client_address` behind a proxy"
            ),
        }
        Ok(Self(address))
    }
}
