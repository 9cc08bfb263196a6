//! [`Cause`]: the underlying error of a DNS or MTA-STS failure, kept as a value.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// The error that caused a [`DnsError`](crate::dns::DnsError) or a
/// [`FetchError`](crate::mta_sts::FetchError): the resolver's, the HTTP client's, rustls's or
/// the operating system's own error, so that a caller can walk the chain
/// ([`Error::source`]) or look for a type with [`downcast_ref`](Self::downcast_ref) instead
/// of reading text.
///
/// It is shared (an [`Arc`]) because those errors are values: lookups and policies are
/// cached and copied. Two causes are equal only when they are the same error (one is a
/// clone of the other); two failures that merely say the same thing are not.
///
/// ```
/// use sealpost_starttls::Cause;
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let cause = Cause::new(io);
/// assert_eq!(cause.to_string(), "refused");
/// assert_eq!(
///     cause.downcast_ref::<std::io::Error>().map(|e| e.kind()),
///     Some(std::io::ErrorKind::ConnectionRefused)
/// );
/// assert_eq!(cause.clone(), cause);
/// ```
#[derive(Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync + 'static>);

impl Cause {
    /// Keeps `error` as the cause.
    pub fn new(error: impl Error + Send + Sync + 'static) -> Self {
        Cause(Arc::new(error))
    }

    /// Keeps an already boxed error as the cause.
    pub fn from_boxed(error: Box<dyn Error + Send + Sync + 'static>) -> Self {
        Cause(Arc::from(error))
    }

    /// The cause as `T`, when it is one.
    pub fn downcast_ref<T: Error + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Cause {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_to_itself_and_its_clones() {
        let a = Cause::new(std::io::Error::other("x"));
        let b = Cause::new(std::io::Error::other("x"));
        assert_eq!(a, a.clone());
        assert_ne!(a, b, "same text, different failures");
    }

    #[test]
    fn the_chain_goes_on_below_the_cause() {
        let cause = Cause::new(Wrapped(std::io::Error::other("disk")));
        assert_eq!(cause.to_string(), "wrapped: disk");
        let below = cause.source().and_then(|e| e.downcast_ref::<std::io::Error>());
        assert_eq!(below.map(ToString::to_string).as_deref(), Some("disk"));
        assert!(cause.downcast_ref::<Wrapped>().is_some());
        assert!(cause.downcast_ref::<std::io::Error>().is_none(), "only the cause itself");
    }

    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "wrapped: {}", self.0)
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }
}
