//! The load of the cluster group: numbered messages through the load balancer, each with
//! a marker and a body that can be recomputed, so that what the mailboxes and the sink
//! hold afterwards can be checked against what got 250: none lost, none partial,
//! duplicates counted.
//!
//! Clients behave as real ones do: a connection that breaks, a 4xx, a greeting that does
//! not come, all mean "try again later" (here: after a short pause, on a new connection),
//! and only a 250 to the end of data means the cluster took the message over. A message
//! is given up (and reported) after a bounded number of tries.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use memchr::memmem;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::bench::load::{Smtp, Tls, greet, starttls};

/// Tries per message before the load gives it up.
const TRIES: usize = 40;

/// How a message goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The MX port, in plaintext, unauthenticated: mail for the local domain.
    Mx,
    /// The submission port: STARTTLS, AUTH, then mail for another domain (relayed).
    Submission,
}

/// Where the load goes, and who it logs in as on the submission port.
#[derive(Clone)]
pub(crate) struct Target {
    /// The balancer's MX frontend.
    pub(crate) mx: SocketAddr,
    /// The balancer's submission frontend.
    pub(crate) submission: SocketAddr,
    /// TLS for STARTTLS on the submission port.
    pub(crate) tls: Tls,
    /// `AUTH PLAIN` with this user and password.
    pub(crate) user: String,
    pub(crate) password: String,
}

/// One message of the load.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// Its number.
    pub(crate) number: usize,
    /// The port it goes in by.
    pub(crate) via: Via,
    /// Its `Message-Id`, without the angle brackets.
    pub(crate) marker: String,
    /// The recipients, in RCPT order.
    pub(crate) recipients: Vec<String>,
    /// The message as sent (before dot-stuffing; it needs none).
    pub(crate) content: Vec<u8>,
}

impl Message {
    /// Message `number` of run `run` to `recipients`, about `size` octets. The marker
    /// (`Message-Id`) names the run and the number; the body is a function of both, and
    /// ends with a line that says where it ends, so a truncated copy shows.
    pub(crate) fn new(
        run: &str,
        number: usize,
        via: Via,
        recipients: Vec<String>,
        size: usize,
    ) -> Message {
        let mut content = format!(
            "From: <load@client.test>\r\nTo: <{}>\r\nSubject: cluster load {number}\r\n\
             Message-Id: <{}>\r\n\r\n",
            recipients.join(">, <"),
            Self::marker_of(run, number)
        )
        .into_bytes();
        let mut line = 0usize;
        while content.len() + 80 < size {
            content.extend_from_slice(format!("{run} {number} line {line:06} ").as_bytes());
            while content.len() % 78 != 0 {
                content.push(b'a' + u8::try_from((number + line) % 26).unwrap_or(0));
            }
            content.extend_from_slice(b"\r\n");
            line += 1;
        }
        content
            .extend_from_slice(format!("end of {}\r\n", Self::marker_of(run, number)).as_bytes());
        Message { number, via, marker: Self::marker_of(run, number), recipients, content }
    }

    /// The marker of message `number` of run `run`.
    pub(crate) fn marker_of(run: &str, number: usize) -> String {
        format!("cluster-{run}-{number}@load.test")
    }

    /// The body: everything after the header section, which every stored copy must
    /// contain whole.
    pub(crate) fn body(&self) -> &[u8] {
        let start = memmem::find(&self.content, b"\r\n\r\n").map_or(0, |p| p + 4);
        &self.content[start..]
    }
}

/// What the load did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The numbers of the messages that got 250.
    pub(crate) accepted: Vec<usize>,
    /// Messages given up after [`TRIES`] tries, with the last reason.
    pub(crate) given_up: Vec<(usize, String)>,
    /// Tries that failed and were retried (connection lost, 4xx, no greeting).
    pub(crate) retries: usize,
    /// How long it took.
    pub(crate) took: Duration,
}

/// Progress that the group watches while the load runs, to break things at set points.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Messages accepted so far.
    pub(crate) accepted: AtomicUsize,
}

/// One try of one message on `smtp`.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: &mut Smtp<S>,
    message: &Message,
) -> Result<()> {
    // SIZE (and the 7-bit BODY) are this hop's: smtp-sink, the relay's next hop, offers
    // neither SIZE nor much else, so a relay that passed them on would be refused.
    let mail =
        format!("MAIL FROM:<load@client.test> SIZE={} BODY=7BIT\r\n", message.content.len() + 3);
    smtp.command(mail.as_bytes(), 250).await?;
    for rcpt in &message.recipients {
        smtp.command(format!("RCPT TO:<{rcpt}>\r\n").as_bytes(), 250).await?;
    }
    smtp.command(b"DATA\r\n", 354).await?;
    smtp.send(&message.content).await?;
    smtp.command(b".\r\n", 250).await
}

/// The connections of one client, opened when needed and dropped after any failure.
#[derive(Default)]
struct Connections {
    mx: Option<Smtp<TcpStream>>,
    submission: Option<Smtp<TlsStream<TcpStream>>>,
}

impl Connections {
    /// One try of `message` on the connection for its port.
    async fn try_send(&mut self, target: &Target, message: &Message) -> Result<()> {
        match message.via {
            Via::Mx => {
                let mut smtp = match self.mx.take() {
                    Some(smtp) => smtp,
                    None => greet(target.mx).await?,
                };
                send(&mut smtp, message).await?;
                self.mx = Some(smtp);
            }
            Via::Submission => {
                let mut smtp = match self.submission.take() {
                    Some(smtp) => smtp,
                    None => {
                        let mut smtp =
                            starttls(greet(target.submission).await?, &target.tls).await?;
                        let token = sealpost_client::sealpost_codec::sasl::encode_base64(
                            format!("\0{}\0{}", target.user, target.password).as_bytes(),
                        );
                        smtp.command(format!("AUTH PLAIN {token}\r\n").as_bytes(), 235).await?;
                        smtp
                    }
                };
                send(&mut smtp, message).await?;
                self.submission = Some(smtp);
            }
        }
        Ok(())
    }

    async fn quit(self) {
        if let Some(mut smtp) = self.mx {
            let _ = smtp.command(b"QUIT\r\n", 221).await;
        }
        if let Some(mut smtp) = self.submission {
            let _ = smtp.command(b"QUIT\r\n", 221).await;
        }
    }
}

/// Sends `messages` to `target` from `sessions` clients at once, each pausing `pace`
/// between messages; gives up on what is left at `deadline`.
pub(crate) async fn run(
    target: Target,
    messages: Arc<Vec<Message>>,
    sessions: usize,
    pace: Duration,
    deadline: Instant,
    progress: Arc<Progress>,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let lock = |o: &Arc<Mutex<Outcome>>| {
        let mut guard = o.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *guard)
    };
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..sessions.max(1) {
        let (target, messages, next, outcome, progress) =
            (target.clone(), messages.clone(), next.clone(), outcome.clone(), progress.clone());
        tasks.spawn(async move {
            let mut connections = Connections::default();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(message) = messages.get(index) else { break };
                let mut last = String::from("the load ran out of time");
                let mut done = false;
                for _ in 0..TRIES {
                    if Instant::now() > deadline {
                        break;
                    }
                    match connections.try_send(&target, message).await {
                        Ok(()) => {
                            done = true;
                            break;
                        }
                        Err(e) => {
                            last = format!("{e:#}");
                            // Whatever broke, start over on fresh connections after a
                            // pause, as a client does after a 4xx or a lost connection.
                            connections = Connections::default();
                            outcome
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .retries += 1;
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                    }
                }
                {
                    let mut o = outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if done {
                        o.accepted.push(message.number);
                        progress.accepted.fetch_add(1, Ordering::Relaxed);
                    } else {
                        o.given_up.push((message.number, last));
                    }
                }
                tokio::time::sleep(pace).await;
            }
            connections.quit().await;
        });
    }
    while tasks.join_next().await.is_some() {}
    let mut outcome = lock(&outcome);
    outcome.took = started.elapsed();
    outcome.accepted.sort_unstable();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_recomputable_and_end_with_their_marker() {
        let a = Message::new("r1", 7, Via::Mx, vec![String::from("bob@dove.test")], 4096);
        let b = Message::new("r1", 7, Via::Mx, vec![String::from("bob@dove.test")], 4096);
        assert_eq!(a.content, b.content);
        assert!(a.content.len() >= 4000 && a.content.len() <= 4096 + 80, "{}", a.content.len());
        let text = String::from_utf8(a.content.clone()).unwrap();
        assert!(text.contains("Message-Id: <cluster-r1-7@load.test>\r\n"));
        assert!(text.ends_with("end of cluster-r1-7@load.test\r\n"));
        // No line starts with a dot: nothing to stuff.
        assert!(!text.contains("\r\n."));
        assert!(text.lines().all(|l| l.len() <= 78));
        let other = Message::new("r1", 8, Via::Mx, vec![String::from("bob@dove.test")], 4096);
        assert_ne!(a.body(), other.body());
    }
}
