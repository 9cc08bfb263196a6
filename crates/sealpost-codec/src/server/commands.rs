//! Command handling of the server session: sequence rules, extension checks and the
//! events that hand decisions to the application.

use crate::command::{Command, InitialResponse, Mechanism, Verb};
use crate::data::{BdatReader, DataError};
use crate::ehlo::{Capability, EhloResponse};
use crate::error::CommandError;
use crate::esmtp::{BodyType, MailParameter, MailParameters, RcptParameter, RcptParameters};
use crate::reply::Reply;
use crate::secret::Secret;
use crate::types::text::Text;

use super::replies::{self, Canned};
use super::{
    CloseReason, Pending, Phase, Refusal, SaslState, ServerEvent, ServerSession, TlsOffer,
};

impl ServerSession {
    /// Reads and handles one command line.
    pub(super) fn read_command(&mut self) -> bool {
        let Some(line) = self.next_line() else {
            return false;
        };
        let Ok(line) = line else {
            self.protocol_error(replies::LINE_TOO_LONG);
            return true;
        };
        match Command::decode_line(&line) {
            Ok(command) => self.on_command(command),
            Err(error) => self.on_bad_command(&error),
        }
        true
    }

    fn on_bad_command(&mut self, error: &CommandError) {
        self.protocol_error(error.canned_reply());
    }

    /// A command other than EHLO/HELO followed by more input, without PIPELINING: the
    /// client is not waiting for replies.
    fn improper_pipelining(&mut self) -> bool {
        if self.config.reject_improper_pipelining
            && !self.pipelining_negotiated()
            && !self.input.is_empty()
        {
            self.close_with(replies::IMPROPER_PIPELINING, CloseReason::ImproperPipelining);
            return true;
        }
        false
    }

    fn on_command(&mut self, command: Command<'_>) {
        let verb = command.verb();
        if self.refused {
            match verb {
                Verb::Quit => self.close_with(replies::BYE, CloseReason::Quit),
                _ => self.protocol_error(replies::REFUSED_SESSION),
            }
            return;
        }
        // EHLO followed by STARTTLS in one write is common and harmless (RFC 3207 puts
        // STARTTLS last in a group); any other command sent ahead is not, after EHLO
        // either (RFC 2920 section 3.1: EHLO ends a group, its reply says whether the
        // client may pipeline at all).
        // BDAT is followed by its chunk by definition (RFC 3030), not by commands.
        let exempt = match verb {
            Verb::Quit | Verb::Bdat => true,
            Verb::Ehlo | Verb::Helo | Verb::Lhlo => {
                let n = self.input.len().min(b"STARTTLS\r\n".len());
                self.input[..n].eq_ignore_ascii_case(&b"STARTTLS\r\n"[..n])
            }
            _ => false,
        };
        if !exempt && self.improper_pipelining() {
            return;
        }
        match command {
            Command::Ehlo(host) | Command::Helo(host) | Command::Lhlo(host) => {
                let lmtp_verb = verb == Verb::Lhlo;
                if lmtp_verb != self.config.lmtp {
                    let canned =
                        if self.config.lmtp { replies::USE_LHLO } else { replies::UNRECOGNIZED };
                    self.protocol_error(canned);
                    return;
                }
                self.reset_transaction();
                let host = host.into_owned();
                self.pending = Some(Pending::Hello(verb, host.clone()));
                self.events.push_back(ServerEvent::Hello { verb, host });
            }
            Command::Mail { reverse_path, parameters } => self.on_mail(reverse_path, parameters),
            Command::Rcpt { forward_path, parameters } => self.on_rcpt(forward_path, parameters),
            Command::Data => self.on_data(),
            Command::Bdat { size, last } => self.on_bdat(size, last),
            Command::Rset => {
                self.reset_transaction();
                self.send(replies::OK);
            }
            Command::Noop(_) => self.send(replies::OK),
            Command::Help(_) => self.send(replies::HELP),
            Command::Quit => self.close_with(replies::BYE, CloseReason::Quit),
            Command::Vrfy(text) => {
                self.pending = Some(Pending::Vrfy);
                self.events.push_back(ServerEvent::Vrfy(text.into_owned()));
            }
            Command::Expn(text) => {
                if self.config.disable_expn {
                    self.protocol_error(replies::NOT_IMPLEMENTED);
                } else {
                    self.pending = Some(Pending::Vrfy);
                    self.events.push_back(ServerEvent::Expn(text.into_owned()));
                }
            }
            Command::StartTls => self.on_starttls(),
            Command::Auth { mechanism, initial_response } => {
                self.on_auth(mechanism, initial_response)
            }
            Command::Unknown { .. } => self.protocol_error(replies::UNRECOGNIZED),
        }
    }

    /// Is an extension announced among the extra capabilities?
    fn offers_extra(&self, keyword: &str) -> bool {
        self.config.extra_capabilities.iter().any(|c| match c {
            Capability::Unknown { keyword: k, .. } => k.eq_ignore_case(keyword),
            Capability::MtPriority(_) => keyword.eq_ignore_ascii_case("MT-PRIORITY"),
            Capability::DeliverBy(_) => keyword.eq_ignore_ascii_case("DELIVERBY"),
            _ => false,
        })
    }

    /// Is this MAIL parameter allowed by what was announced?
    fn mail_parameter_allowed(&self, param: &MailParameter<'_>) -> bool {
        let c = &self.config;
        match param {
            MailParameter::Size(_) => true,
            MailParameter::Body(BodyType::SevenBit) => true,
            MailParameter::Body(BodyType::EightBitMime) => c.eight_bit_mime,
            MailParameter::Body(BodyType::BinaryMime) => c.binary_mime && c.chunking,
            MailParameter::SmtpUtf8 => c.smtputf8,
            MailParameter::Ret(_) | MailParameter::EnvId(_) => c.dsn,
            MailParameter::Auth(_) => c.auth.is_some(),
            MailParameter::RequireTls => c.requiretls && self.tls,
            MailParameter::MtPriority(_) => self.offers_extra("MT-PRIORITY"),
            MailParameter::HoldFor(_) | MailParameter::HoldUntil(_) => {
                self.offers_extra("FUTURERELEASE")
            }
            MailParameter::By(_) => self.offers_extra("DELIVERBY"),
            MailParameter::Unknown(p) => {
                c.accept_unknown_parameters || self.offers_extra(p.keyword.as_str())
            }
        }
    }

    fn on_mail(&mut self, reverse_path: crate::ReversePath<'_>, parameters: MailParameters<'_>) {
        if self.hello.is_none() {
            return self.protocol_error(replies::NEED_HELLO);
        }
        if self.transaction.is_some() {
            return self.protocol_error(replies::NESTED_MAIL);
        }
        if self.config.tls == TlsOffer::Required && !self.tls {
            return self.protocol_error(replies::NEED_TLS);
        }
        if self.config.auth.as_ref().is_some_and(|a| a.required) && !self.authenticated {
            return self.protocol_error(replies::NEED_AUTH);
        }
        // RFC 5321 section 4.1.1.11: parameters need EHLO.
        let esmtp = matches!(self.hello, Some(Verb::Ehlo | Verb::Lhlo));
        if !parameters.is_empty()
            && (!esmtp || !parameters.iter().all(|p| self.mail_parameter_allowed(p)))
        {
            return self.protocol_error(replies::UNSUPPORTED_PARAMETER);
        }
        if let (Some(size), Some(max)) = (parameters.size(), self.config.max_message_size)
            && size > max
        {
            return self.send(replies::TOO_BIG);
        }
        self.pending =
            Some(Pending::Mail { smtputf8: parameters.smtputf8(), body: parameters.body() });
        self.events.push_back(ServerEvent::Mail {
            reverse_path: reverse_path.into_owned(),
            parameters: parameters.into_owned(),
        });
    }

    fn on_rcpt(&mut self, forward_path: crate::ForwardPath<'_>, parameters: RcptParameters<'_>) {
        let Some(transaction) = &self.transaction else {
            return self.protocol_error(replies::NEED_MAIL);
        };
        if !forward_path.is_ascii() && !transaction.smtputf8 {
            return self.send(replies::NON_ASCII_ADDRESS);
        }
        if transaction.accepted_rcpts >= self.config.max_recipients {
            return self.send(replies::TOO_MANY_RECIPIENTS);
        }
        let allowed = |p: &RcptParameter<'_>| match p {
            RcptParameter::Notify(_) | RcptParameter::Orcpt(_) => self.config.dsn,
            RcptParameter::Rrvs(_) => self.offers_extra("RRVS"),
            RcptParameter::Unknown(u) => {
                self.config.accept_unknown_parameters || self.offers_extra(u.keyword.as_str())
            }
        };
        if !parameters.iter().all(allowed) {
            return self.protocol_error(replies::UNSUPPORTED_PARAMETER);
        }
        self.pending = Some(Pending::Rcpt);
        self.events.push_back(ServerEvent::Rcpt {
            forward_path: forward_path.into_owned(),
            parameters: parameters.into_owned(),
        });
    }

    fn on_data(&mut self) {
        let trailing = !self.input.is_empty();
        let refusal = match &self.transaction {
            None => Some(replies::NEED_MAIL),
            Some(t) if t.bdat => Some(replies::MIXED_DATA_BDAT),
            Some(t) if t.body == Some(BodyType::BinaryMime) => Some(replies::BINARY_NEEDS_BDAT),
            Some(t) if t.accepted_rcpts == 0 => Some(replies::NO_RECIPIENTS),
            Some(_) => None,
        };
        match refusal {
            Some(canned) => {
                self.protocol_error(canned);
                if trailing && !self.closed && self.config.reject_improper_pipelining {
                    // Data sent ahead of a 354 that never came: not commands.
                    self.close_with(replies::IMPROPER_PIPELINING, CloseReason::ImproperPipelining);
                }
            }
            None => {
                self.pending = Some(Pending::MessageStart { bdat: None, trailing });
                self.events.push_back(ServerEvent::MessageStart { chunking: false });
            }
        }
    }

    fn on_bdat(&mut self, size: u64, last: bool) {
        let enhanced = self.config.enhanced_status_codes;
        let refuse = |canned: Canned, protocol_error| Refusal {
            reply: canned.build(enhanced),
            error: None,
            protocol_error,
        };
        // The chunk's octets follow the command whatever the verdict: read them all, or
        // they would be taken for commands.
        let mut first = false;
        let refusal = if !self.config.chunking {
            Some(refuse(replies::NOT_IMPLEMENTED, true))
        } else {
            match &mut self.transaction {
                None => Some(refuse(replies::NEED_MAIL, true)),
                Some(t) if t.accepted_rcpts == 0 => Some(refuse(replies::NO_RECIPIENTS, true)),
                Some(t) => {
                    first = !t.bdat;
                    t.bdat = true;
                    match self.config.max_message_size {
                        Some(limit) if t.bdat_size.saturating_add(size) > limit => Some(Refusal {
                            reply: replies::TOO_BIG.build(enhanced),
                            error: Some(DataError::TooLarge { limit }),
                            protocol_error: false,
                        }),
                        _ => None,
                    }
                }
            }
        };
        if first && refusal.is_none() {
            // The application opens its message here, as it does for DATA.
            self.pending =
                Some(Pending::MessageStart { bdat: Some((size, last)), trailing: false });
            self.events.push_back(ServerEvent::MessageStart { chunking: true });
            return;
        }
        self.phase = Phase::Bdat { reader: BdatReader::new(size), last, refusal };
    }

    fn on_starttls(&mut self) {
        if self.tls {
            return self.protocol_error(replies::ALREADY_TLS);
        }
        if self.config.tls == TlsOffer::None {
            return self.protocol_error(replies::NOT_IMPLEMENTED);
        }
        let trailing = self.input.len();
        if trailing > 0 {
            match self.config.starttls_trailing {
                super::StartTlsTrailing::Reject => {
                    return self.close_with(
                        replies::STARTTLS_INJECTION,
                        CloseReason::StartTlsInjection { trailing },
                    );
                }
                _ => self.input.clear(),
            }
        }
        self.send(replies::READY_TLS);
        self.phase = Phase::StartTls;
        self.events.push_back(ServerEvent::StartTls { discarded: trailing });
    }

    /// May AUTH be used now? Otherwise the reply that says why not.
    fn auth_refusal(&self, mechanism: &Mechanism<'_>) -> Option<Canned> {
        let Some(auth) = &self.config.auth else {
            return Some(replies::NOT_IMPLEMENTED);
        };
        if !self.tls && !auth.allow_without_tls {
            // RFC 4954 section 4 and RFC 3207: never take credentials in the clear.
            return Some(if self.config.tls == TlsOffer::None {
                replies::NOT_IMPLEMENTED
            } else {
                replies::NEED_TLS
            });
        }
        if !matches!(self.hello, Some(Verb::Ehlo | Verb::Lhlo)) {
            return Some(replies::NEED_HELLO);
        }
        if self.authenticated {
            return Some(replies::ALREADY_AUTH);
        }
        if self.transaction.is_some() {
            return Some(replies::AUTH_IN_TRANSACTION);
        }
        if !auth.mechanisms.iter().any(|m| m.is(mechanism.as_str())) {
            return Some(replies::UNKNOWN_MECHANISM);
        }
        None
    }

    fn on_auth(&mut self, mechanism: Mechanism<'_>, initial_response: Option<InitialResponse<'_>>) {
        if let Some(canned) = self.auth_refusal(&mechanism) {
            return self.protocol_error(canned);
        }
        let response = match initial_response.as_ref().map(InitialResponse::decode) {
            None => None,
            Some(Ok(bytes)) => Some(bytes),
            Some(Err(_)) => return self.protocol_error(replies::BAD_BASE64),
        };
        let mechanism = mechanism.into_owned();
        if mechanism.is("PLAIN") {
            match response {
                Some(message) => self.sasl_response(SaslState::Plain, message),
                None => {
                    self.outbox.extend_from_slice(b"334 \r\n");
                    self.phase = Phase::Auth(SaslState::Plain);
                }
            }
        } else if mechanism.is("LOGIN") {
            match response {
                Some(username) => self.sasl_response(SaslState::LoginUser, username),
                None => {
                    self.login_prompt(crate::sasl::LOGIN_USERNAME_PROMPT);
                    self.phase = Phase::Auth(SaslState::LoginUser);
                }
            }
        } else {
            self.pending = Some(Pending::AuthStep { mechanism: mechanism.clone() });
            self.events.push_back(ServerEvent::AuthStep { mechanism, response, initial: true });
        }
    }

    fn login_prompt(&mut self, prompt: &str) {
        self.outbox.extend_from_slice(b"334 ");
        self.outbox.extend_from_slice(prompt.as_bytes());
        self.outbox.extend_from_slice(b"\r\n");
    }

    /// One decoded SASL response.
    pub(super) fn sasl_response(&mut self, state: SaslState, response: Secret<Vec<u8>>) {
        match state {
            SaslState::Plain => match crate::sasl::decode_plain(response.expose()) {
                Ok(credentials) => {
                    self.identity = Some(credentials.username.clone());
                    self.pending = Some(Pending::Auth);
                    self.events
                        .push_back(ServerEvent::Auth { mechanism: Mechanism::PLAIN, credentials });
                }
                Err(_) => self.protocol_error(replies::BAD_BASE64),
            },
            SaslState::LoginUser => match String::from_utf8(response.into_inner()) {
                Ok(username) if !username.is_empty() => {
                    self.login_prompt(crate::sasl::LOGIN_PASSWORD_PROMPT);
                    self.phase = Phase::Auth(SaslState::LoginPassword { username });
                }
                _ => self.protocol_error(replies::BAD_BASE64),
            },
            SaslState::LoginPassword { username } => match String::from_utf8(response.into_inner())
            {
                Ok(password) => {
                    self.identity = Some(username.clone());
                    self.pending = Some(Pending::Auth);
                    self.events.push_back(ServerEvent::Auth {
                        mechanism: Mechanism::LOGIN,
                        credentials: crate::sasl::Credentials {
                            authzid: None,
                            username,
                            password: Secret::new(password),
                        },
                    });
                }
                Err(_) => self.protocol_error(replies::BAD_BASE64),
            },
            SaslState::Other { mechanism } => {
                self.pending = Some(Pending::AuthStep { mechanism: mechanism.clone() });
                self.events.push_back(ServerEvent::AuthStep {
                    mechanism,
                    response: Some(response),
                    initial: false,
                });
            }
        }
    }

    /// The reply to an accepted EHLO/LHLO (capabilities) or HELO (name only).
    pub(super) fn hello_reply(&self, verb: Verb) -> Reply<'static> {
        let name = Text::new(self.config.hostname.clone()).unwrap_or(Text::EMPTY);
        if verb == Verb::Helo {
            return Reply::from_parts(crate::reply::ReplyCode::unchecked(250), vec![name]);
        }
        EhloResponse { domain: name, greeting: None, capabilities: self.capabilities() }.to_reply()
    }

    /// What the EHLO reply announces now (it depends on TLS state).
    pub fn capabilities(&self) -> Vec<Capability<'static>> {
        let c = &self.config;
        let mut caps = vec![Capability::Size(c.max_message_size)];
        if c.pipelining {
            caps.push(Capability::Pipelining);
        }
        if c.eight_bit_mime {
            caps.push(Capability::EightBitMime);
        }
        if c.chunking {
            caps.push(Capability::Chunking);
            if c.binary_mime {
                caps.push(Capability::BinaryMime);
            }
        }
        if c.smtputf8 {
            caps.push(Capability::SmtpUtf8);
        }
        if c.dsn {
            caps.push(Capability::Dsn);
        }
        if c.enhanced_status_codes {
            caps.push(Capability::EnhancedStatusCodes);
        }
        if c.tls != TlsOffer::None && !self.tls {
            caps.push(Capability::StartTls);
        }
        if let Some(auth) = &c.auth
            && (self.tls || auth.allow_without_tls)
            && !auth.mechanisms.is_empty()
        {
            caps.push(Capability::Auth(auth.mechanisms.clone()));
        }
        if c.requiretls && self.tls {
            caps.push(Capability::RequireTls);
        }
        caps.extend(c.extra_capabilities.iter().cloned());
        caps
    }
}
