//! AUTH (RFC 4954): PLAIN and LOGIN credentials to [`Handler::authenticate`], other
//! mechanisms step by step to [`Handler::auth_step`]; failures counted per client
//! address.

use sealpost_codec::sasl::Credentials;
use sealpost_codec::{Mechanism, replies};

use super::Connection;
use crate::auth::{AuthExchange, AuthStep};
use crate::handler::Handler;

impl<H: Handler> Connection<H> {
    /// Too many failures from this address: "421 4.7.0" and close. True when closed.
    fn auth_blocked(&mut self) -> bool {
        if self.shared.auth_failures.blocked(self.origin.peer.ip()) {
            self.session().close(replies::TOO_MANY_AUTH_FAILURES.to_reply());
            return true;
        }
        false
    }

    fn auth_failed(&mut self, user: &str) {
        tracing::info!(session = %self.origin.id, %user, "authentication failed");
        self.shared.auth_failures.record(self.origin.peer.ip());
        self.session().reject_auth();
    }

    fn auth_succeeded(&mut self, user: String) {
        tracing::info!(session = %self.origin.id, %user, "authenticated");
        self.session().accept_auth(user);
    }

    pub(super) async fn authenticate(
        &mut self,
        mechanism: &Mechanism<'_>,
        credentials: &Credentials,
    ) {
        if self.auth_blocked() {
            return;
        }
        let handler = self.shared.handler.clone();
        match handler.authenticate(&self.info(), mechanism, credentials).await {
            Some(user) => self.auth_succeeded(user),
            None => self.auth_failed(&credentials.username),
        }
    }

    /// One step of a mechanism the handler drives. `initial` starts a new exchange.
    pub(super) async fn auth_step(
        &mut self,
        mechanism: Mechanism<'static>,
        response: Option<&[u8]>,
        initial: bool,
    ) {
        if initial {
            if self.auth_blocked() {
                return;
            }
            self.auth = Some(AuthExchange::new(mechanism));
        }
        let Some(mut exchange) = self.auth.take() else {
            // A response without an exchange: the session and this loop disagree.
            self.session().respond(replies::MECHANISM_NOT_SUPPORTED.to_reply());
            return;
        };
        let handler = self.shared.handler.clone();
        let step = handler.auth_step(&self.info(), &mut exchange, response).await;
        exchange.advance();
        match step {
            AuthStep::Challenge(challenge) => {
                self.session().auth_challenge(&challenge);
                self.auth = Some(exchange);
            }
            AuthStep::Success(user) => self.auth_succeeded(user),
            _ => self.auth_failed(exchange.mechanism().as_str()),
        }
    }
}
