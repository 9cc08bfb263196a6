//! SASL mechanisms beyond PLAIN and LOGIN (RFC 4954): what a [`Handler`](crate::Handler)
//! sees of one exchange and what it answers at each step.

use std::any::Any;
use std::fmt;

use sealpost_codec::Mechanism;

/// The answer to one step of a SASL exchange
/// ([`Handler::auth_step`](crate::Handler::auth_step)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthStep {
    /// Send this challenge ("334" and its base64) and wait for the client's response.
    Challenge(Vec<u8>),
    /// The client is authenticated as this identity ("235 2.7.0").
    Success(String),
    /// The client is refused ("535 5.7.8"); the failure counts against its address.
    Failure,
}

/// One SASL exchange in progress: its mechanism, how many steps were answered, and the
/// handler's own state between steps (a SCRAM server's nonce, for example). It lives as
/// long as the exchange: a new AUTH command starts a new one.
///
/// ```
/// use sealpost_codec::Mechanism;
/// use sealpost_server::AuthExchange;
///
/// let mut exchange = AuthExchange::new(Mechanism::new("X-TWO-STEP").unwrap());
/// assert_eq!(exchange.step(), 0);
/// assert!(exchange.state::<String>().is_none());
/// exchange.set_state(String::from("alice"));
/// assert_eq!(exchange.state::<String>().map(|s| s.as_str()), Some("alice"));
/// ```
pub struct AuthExchange {
    mechanism: Mechanism<'static>,
    step: usize,
    state: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for AuthExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state may hold secrets: never shown.
        f.debug_struct("AuthExchange")
            .field("mechanism", &self.mechanism)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl AuthExchange {
    /// A new exchange for `mechanism`, before its first step.
    pub fn new(mechanism: Mechanism<'static>) -> Self {
        AuthExchange { mechanism, step: 0, state: None }
    }

    /// The mechanism the client chose (one of
    /// [`Handler::auth_mechanisms`](crate::Handler::auth_mechanisms)).
    pub fn mechanism(&self) -> &Mechanism<'static> {
        &self.mechanism
    }

    /// How many steps were answered before this one (0 for the AUTH command itself).
    pub fn step(&self) -> usize {
        self.step
    }

    /// The handler's state between steps, if it stored one of type `T`.
    pub fn state<T: Any + Send>(&mut self) -> Option<&mut T> {
        self.state.as_mut().and_then(|s| s.downcast_mut::<T>())
    }

    /// Stores the handler's state for the next steps (replacing any earlier one).
    pub fn set_state<T: Any + Send>(&mut self, state: T) {
        self.state = Some(Box::new(state));
    }

    pub(crate) fn advance(&mut self) {
        self.step += 1;
    }
}
