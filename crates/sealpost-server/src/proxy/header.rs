//! Framing and parsing of one PROXY protocol header (HAProxy's proxy-protocol.txt, v1 and
//! v2), sans I/O.
//!
//! The fields are parsed by the `ppp` crate. The framing (where the header ends, the
//! length caps, the early refusal of anything that cannot become a header) is done here
//! first, so `ppp` only ever sees one complete header: a v1 line up to its CRLF, or a v2
//! header of exactly 16 + `len` bytes. That keeps every byte after the header in the
//! socket for the SMTP session, and bounds what a peer can make us buffer.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ppp::v1;
use ppp::v2;

/// The v1 signature: "PROXY" and a space (spec section 2.1).
const V1_SIGNATURE: &[u8] = b"PROXY ";
/// The v2 signature (spec section 2.2).
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// A v1 header is at most 107 bytes, CRLF included (spec section 2.1).
pub(crate) const V1_MAX: usize = 107;
/// The fixed part of a v2 header: signature, version and command, family and protocol,
/// and the 16-bit length of what follows.
const V2_FIXED: usize = 16;
/// The largest v2 header accepted, the fixed part, addresses and TLVs together. The
/// format allows 64 KiB; HAProxy's headers (addresses, a unique id, SSL details, a
/// namespace, NOOP padding) stay far below this, and a peer must not make each
/// connection buffer 64 KiB before it even says who it is.
pub(crate) const V2_MAX: usize = 4096;

/// Which version of the protocol a header used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// The text form.
    V1,
    /// The binary form.
    V2,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        })
    }
}

/// A complete, valid header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// v1 or v2.
    pub(crate) version: Version,
    /// The client's address and the address it connected to, when the header carries
    /// them: v1 TCP4/TCP6, v2 PROXY over AF_INET/AF_INET6 STREAM. `None` for v1 UNKNOWN,
    /// v2 LOCAL (the balancer's own health checks) and v2 AF_UNSPEC/AF_UNIX: then the
    /// TCP peer is the client, as the specification asks.
    pub(crate) addresses: Option<(SocketAddr, SocketAddr)>,
    /// How many v2 TLVs followed the addresses (skipped: nothing in them is trusted).
    pub(crate) tlvs: usize,
}

impl Header {
    /// The client's address, when the header gives one. An IPv4 client that a dual-stack
    /// balancer names as `::ffff:a.b.c.d` is `a.b.c.d`: one client, one key for the
    /// per-address limits.
    pub(crate) fn source(&self) -> Option<SocketAddr> {
        self.addresses.map(|(source, _)| SocketAddr::new(source.ip().to_canonical(), source.port()))
    }
}

/// Why the bytes at the start of a connection are not a PROXY header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    /// Neither signature.
    #[error("no PROXY protocol header: the connection starts with {0}")]
    Missing(Start),
    /// No CRLF within 107 bytes.
    #[error("PROXY v1 header longer than {V1_MAX} bytes")]
    V1TooLong,
    /// Not a valid v1 line.
    #[error("malformed PROXY v1 header: {0}")]
    V1Malformed(String),
    /// A v2 length above the cap.
    #[error("PROXY v2 header of {0} bytes, more than the {V2_MAX} accepted")]
    V2TooLong(usize),
    /// Not a valid v2 header.
    #[error("malformed PROXY v2 header: {0}")]
    V2Malformed(String),
}

/// The first bytes of a connection that did not start with a PROXY header, for the log:
/// printable ASCII as is, anything else escaped, at most 16 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Start(Vec<u8>);

impl fmt::Display for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

/// Looks for one header at the start of `buf`.
///
/// `Ok(Some((header, len)))`: the header is `buf[..len]` and the rest of `buf` belongs to
/// the session. `Ok(None)`: no decision yet, and every byte of `buf` is part of the
/// header (so a reader may consume all of it and come back with more). `Err`: there is no
/// valid header, and no more input would make one.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
    match buf.first() {
        None => Ok(None),
        Some(b'P') => parse_v1(buf),
        Some(b'\r') => parse_v2(buf),
        Some(_) => Err(missing(buf)),
    }
}

fn missing(buf: &[u8]) -> HeaderError {
    HeaderError::Missing(Start(buf.iter().take(16).copied().collect()))
}

/// True when `buf` starts like `signature` as far as both go.
fn starts_like(buf: &[u8], signature: &[u8]) -> bool {
    let n = buf.len().min(signature.len());
    buf[..n] == signature[..n]
}

/// v1: "PROXY" SP protocol [SP addresses SP ports] CRLF, printable ASCII, at most 107
/// bytes.
fn parse_v1(buf: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
    if !starts_like(buf, V1_SIGNATURE) {
        return Err(missing(buf));
    }
    let mut end = None;
    for (i, &byte) in buf.iter().enumerate().take(V1_MAX) {
        match byte {
            b'\r' => match buf.get(i + 1) {
                Some(b'\n') => {
                    end = Some(i + 2);
                    break;
                }
                // The CR is the last byte read so far: its LF may still come.
                None => break,
                Some(_) => return Err(v1_malformed("CR not followed by LF")),
            },
            // Decided at once rather than at the timeout: a line that ends in a bare LF
            // never becomes a header.
            b'\n' => return Err(v1_malformed("LF without CR")),
            0x20..=0x7e => {}
            _ => return Err(v1_malformed("a byte that is not printable ASCII")),
        }
    }
    let Some(end) = end else {
        return if buf.len() >= V1_MAX { Err(HeaderError::V1TooLong) } else { Ok(None) };
    };
    if end > V1_MAX {
        return Err(HeaderError::V1TooLong);
    }
    let header =
        v1::Header::try_from(&buf[..end]).map_err(|e| HeaderError::V1Malformed(e.to_string()))?;
    // ppp reads ports with Rust's integer parser, which takes a sign ("+25"); the
    // specification's ports are decimal digits only.
    let digits = |field: &[u8]| !field.is_empty() && field.iter().all(u8::is_ascii_digit);
    if !matches!(header.addresses, v1::Addresses::Unknown)
        && !buf[..end - 2].split(|&b| b == b' ').skip(4).all(digits)
    {
        return Err(v1_malformed("a port that is not decimal digits"));
    }
    let addresses = match header.addresses {
        v1::Addresses::Tcp4(a) => Some((
            SocketAddr::new(IpAddr::V4(a.source_address), a.source_port),
            SocketAddr::new(IpAddr::V4(a.destination_address), a.destination_port),
        )),
        v1::Addresses::Tcp6(a) => Some((
            SocketAddr::new(IpAddr::V6(a.source_address), a.source_port),
            SocketAddr::new(IpAddr::V6(a.destination_address), a.destination_port),
        )),
        v1::Addresses::Unknown => None,
    };
    Ok(Some((Header { version: Version::V1, addresses, tlvs: 0 }, end)))
}

fn v1_malformed(what: &str) -> HeaderError {
    HeaderError::V1Malformed(what.to_owned())
}

fn v2_malformed(what: impl fmt::Display) -> HeaderError {
    HeaderError::V2Malformed(what.to_string())
}

/// v2: the 12-byte signature, version and command, family and protocol, a big-endian
/// length, then exactly that many bytes of addresses and TLVs.
fn parse_v2(buf: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
    if !starts_like(buf, V2_SIGNATURE) {
        return Err(missing(buf));
    }
    let [.., version_command, _, high, low] = match buf.get(..V2_FIXED) {
        Some(fixed) => <[u8; V2_FIXED]>::try_from(fixed).map_err(v2_malformed)?,
        None => return Ok(None),
    };
    if version_command >> 4 != 2 {
        return Err(v2_malformed(format_args!("version {}, not 2", version_command >> 4)));
    }
    let total = V2_FIXED + usize::from(u16::from_be_bytes([high, low]));
    if total > V2_MAX {
        return Err(HeaderError::V2TooLong(total));
    }
    let Some(bytes) = buf.get(..total) else { return Ok(None) };
    let header = v2::Header::try_from(bytes).map_err(v2_malformed)?;
    // Walked only to check that the TLVs fill the block exactly (a header that is wrong
    // here is wrong elsewhere too); their values are never read.
    let mut tlvs = 0;
    for tlv in header.tlvs() {
        tlv.map_err(v2_malformed)?;
        tlvs += 1;
    }
    let addresses = match (header.command, header.protocol, header.addresses) {
        // The balancer's own connection (health checks): the real ends count.
        (v2::Command::Local, _, _) => None,
        (v2::Command::Proxy, v2::Protocol::Stream, v2::Addresses::IPv4(a)) => Some((
            SocketAddr::new(IpAddr::V4(a.source_address), a.source_port),
            SocketAddr::new(IpAddr::V4(a.destination_address), a.destination_port),
        )),
        (v2::Command::Proxy, v2::Protocol::Stream, v2::Addresses::IPv6(a)) => Some((
            SocketAddr::new(IpAddr::V6(a.source_address), a.source_port),
            SocketAddr::new(IpAddr::V6(a.destination_address), a.destination_port),
        )),
        (v2::Command::Proxy, v2::Protocol::Datagram, _) => {
            return Err(v2_malformed("a UDP (DGRAM) client cannot arrive over TCP"));
        }
        // AF_UNSPEC, AF_UNIX, or an unspecified transport: no client address we could
        // use; the specification lets the receiver take the real ends.
        (v2::Command::Proxy, _, _) => None,
    };
    Ok(Some((Header { version: Version::V2, addresses, tlvs }, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2 header: version/command byte, family/protocol byte, then the block.
    fn v2(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.push(command);
        out.push(family);
        out.extend_from_slice(&u16::try_from(block.len()).unwrap().to_be_bytes());
        out.extend_from_slice(block);
        out
    }

    fn ipv4_block(tlvs: &[u8]) -> Vec<u8> {
        let mut block = vec![192, 0, 2, 1, 198, 51, 100, 7, 0xc3, 0x50, 0, 25];
        block.extend_from_slice(tlvs);
        block
    }

    fn ipv6_block(tlvs: &[u8]) -> Vec<u8> {
        let mut block = Vec::new();
        block.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        block.extend_from_slice(&"2001:db8::25".parse::<std::net::Ipv6Addr>().unwrap().octets());
        block.extend_from_slice(&[0xc3, 0x50, 0, 25]);
        block.extend_from_slice(tlvs);
        block
    }

    /// The TLVs HAProxy may send: UNIQUE_ID, SSL (with a VERSION sub-TLV), NETNS, NOOP
    /// padding, and an unknown type.
    const TLVS: &[u8] = &[
        0x05, 0, 4, b'u', b'i', b'd', b'1', // PP2_TYPE_UNIQUE_ID
        0x20, 0, 12, 0x01, 0, 0, 0, 0, 0x21, 0, 4, b'T', b'L', b'S', b'3', // PP2_TYPE_SSL
        0x30, 0, 2, b'n', b's', // PP2_TYPE_NETNS
        0x04, 0, 3, 0, 0, 0, // PP2_TYPE_NOOP
        0xee, 0, 0, // unknown, empty
    ];

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    type Expected = Result<Option<(Option<(&'static str, &'static str)>, usize)>, &'static str>;

    fn check(input: &[u8], expected: Expected) {
        let got = parse(input);
        let got = match got {
            Ok(Some((header, len))) => {
                Ok(Some((header.addresses.map(|(s, d)| (s.to_string(), d.to_string())), len)))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
        let expected = match expected {
            Ok(Some((addresses, len))) => {
                Ok(Some((addresses.map(|(s, d)| (addr(s).to_string(), addr(d).to_string())), len)))
            }
            Ok(None) => Ok(None),
            Err(text) => Err(text.to_owned()),
        };
        match (&got, &expected) {
            (Err(got), Err(want)) => assert!(got.contains(want), "{input:?}: {got} !~ {want}"),
            _ => assert_eq!(got, expected, "{:?}", input.escape_ascii().to_string()),
        }
    }

    #[test]
    fn v1_table() {
        let v4 = Some(("192.0.2.1:50000", "198.51.100.7:25"));
        let v6 = Some(("[2001:db8::1]:50000", "[2001:db8::25]:25"));
        let table: &[(&[u8], Expected)] = &[
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25\r\n", Ok(Some((v4, 44)))),
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25\r\nEHLO x\r\n", Ok(Some((v4, 44)))),
            (b"PROXY TCP6 2001:db8::1 2001:db8::25 50000 25\r\n", Ok(Some((v6, 46)))),
            (b"PROXY UNKNOWN\r\n", Ok(Some((None, 15)))),
            (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", Ok(Some((None, 35)))),
            // Incomplete: every byte so far can still be a header.
            (b"", Ok(None)),
            (b"P", Ok(None)),
            (b"PROXY TCP4 192.0.2.1", Ok(None)),
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25\r", Ok(None)),
            // Refused.
            (
                b"EHLO client.test\r\n",
                Err("no PROXY protocol header: the connection starts with \"EHLO client.test"),
            ),
            (b"PROXX", Err("no PROXY protocol header")),
            (b"proxy TCP4", Err("no PROXY protocol header")),
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25\n", Err("LF without CR")),
            (b"PROXY TCP4 192.0.2.1\r198.51.100.7 50000 25\r\n", Err("CR not followed by LF")),
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25\0\r\n", Err("not printable ASCII")),
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 70000 25\r\n", Err("malformed PROXY v1")),
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 -1 25\r\n", Err("malformed PROXY v1")),
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 +1 25\r\n", Err("not decimal digits")),
            (b"PROXY TCP6 2001:db8::1 2001:db8::25 1 +25\r\n", Err("not decimal digits")),
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 050000 25\r\n", Err("malformed PROXY v1")),
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 50000\r\n", Err("malformed PROXY v1")),
            (b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25 9\r\n", Err("malformed PROXY v1")),
            (b"PROXY TCP4 2001:db8::1 198.51.100.7 50000 25\r\n", Err("malformed PROXY v1")),
            (b"PROXY TCP6 192.0.2.1 2001:db8::25 50000 25\r\n", Err("malformed PROXY v1")),
            (b"PROXY TCP4 192.0.2.256 198.51.100.7 50000 25\r\n", Err("malformed PROXY v1")),
            (b"PROXY  TCP4 192.0.2.1 198.51.100.7 50000 25\r\n", Err("malformed PROXY v1")),
            (b"PROXY UDP4 192.0.2.1 198.51.100.7 50000 25\r\n", Err("malformed PROXY v1")),
            (b"PROXY \r\n", Err("malformed PROXY v1")),
        ];
        for (input, expected) in table {
            check(input, *expected);
        }
    }

    #[test]
    fn an_ipv4_mapped_client_is_an_ipv4_client() {
        let (header, _) = parse(b"PROXY TCP6 ::ffff:192.0.2.1 ::ffff:198.51.100.7 50000 25\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(header.source(), Some(addr("192.0.2.1:50000")));
    }

    #[test]
    fn v1_is_at_most_107_bytes() {
        // The longest legal TCP6 line is 104 bytes; pad an UNKNOWN line to the limit.
        let line = |len: usize| {
            let mut line = b"PROXY UNKNOWN ".to_vec();
            line.resize(len - 2, b'x');
            line.extend_from_slice(b"\r\n");
            line
        };
        assert_eq!(parse(&line(107)).unwrap().unwrap().1, 107);
        assert_eq!(parse(&line(108)), Err(HeaderError::V1TooLong));
        // Without a CRLF, the decision comes at 107 bytes, not later.
        let long = [b"PROXY ".as_slice(), &[b'x'; 110]].concat();
        assert_eq!(parse(&long[..106]), Ok(None));
        assert_eq!(parse(&long[..107]), Err(HeaderError::V1TooLong));
    }

    #[test]
    fn v2_table() {
        let v4 = Some(("192.0.2.1:50000", "198.51.100.7:25"));
        let v6 = Some(("[2001:db8::1]:50000", "[2001:db8::25]:25"));
        let unix = vec![0u8; 216];
        let table: Vec<(Vec<u8>, Expected)> = vec![
            (v2(0x21, 0x11, &ipv4_block(&[])), Ok(Some((v4, 28)))),
            (v2(0x21, 0x11, &ipv4_block(TLVS)), Ok(Some((v4, 28 + TLVS.len())))),
            (v2(0x21, 0x21, &ipv6_block(TLVS)), Ok(Some((v6, 52 + TLVS.len())))),
            // LOCAL, with or without addresses: the TCP peer stays the client.
            (v2(0x20, 0x00, &[]), Ok(Some((None, 16)))),
            (v2(0x20, 0x11, &ipv4_block(&[])), Ok(Some((None, 28)))),
            // AF_UNSPEC and AF_UNIX under PROXY: as LOCAL.
            (v2(0x21, 0x00, &[]), Ok(Some((None, 16)))),
            (v2(0x21, 0x00, &[1, 2, 3]), Ok(Some((None, 19)))),
            (v2(0x21, 0x31, &unix), Ok(Some((None, 232)))),
            (v2(0x21, 0x01, &ipv4_block(&[])), Ok(Some((None, 28)))),
            // Incomplete.
            (b"\r\n\r\n\0".to_vec(), Ok(None)),
            (v2(0x21, 0x11, &ipv4_block(&[]))[..16].to_vec(), Ok(None)),
            (v2(0x21, 0x11, &ipv4_block(&[]))[..27].to_vec(), Ok(None)),
            // Refused.
            (b"\r\n\r\nX".to_vec(), Err("no PROXY protocol header")),
            (v2(0x11, 0x11, &ipv4_block(&[])), Err("version 1, not 2")),
            (v2(0x22, 0x11, &ipv4_block(&[])), Err("malformed PROXY v2 header")),
            (v2(0x21, 0x41, &ipv4_block(&[])), Err("malformed PROXY v2 header")),
            (v2(0x21, 0x13, &ipv4_block(&[])), Err("malformed PROXY v2 header")),
            (v2(0x21, 0x12, &ipv4_block(&[])), Err("UDP (DGRAM)")),
            (v2(0x21, 0x11, &[192, 0, 2, 1]), Err("malformed PROXY v2 header")),
            (v2(0x21, 0x21, &ipv4_block(&[])), Err("malformed PROXY v2 header")),
            (v2(0x21, 0x31, &[0; 100]), Err("malformed PROXY v2 header")),
            (v2(0x21, 0x11, &ipv4_block(&[0x05, 0, 9, b'x'])), Err("malformed PROXY v2 header")),
            (v2(0x21, 0x11, &ipv4_block(&[0x04, 0])), Err("malformed PROXY v2 header")),
            (v2(0x21, 0x11, &ipv4_block(&[0x04; 4081 - 12])), Err("more than the 4096")),
        ];
        for (input, expected) in table {
            check(&input, expected);
        }
    }

    #[test]
    fn v2_is_refused_above_the_cap_before_its_block_arrives() {
        let mut fixed = V2_SIGNATURE.to_vec();
        fixed.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert_eq!(parse(&fixed), Err(HeaderError::V2TooLong(16 + 0xffff)));
        // Zeros are empty TLVs of type 0: 1356 of them fill the largest header.
        let largest = v2(0x21, 0x11, &ipv4_block(&[0; V2_MAX - 28]));
        assert_eq!(largest.len(), V2_MAX);
        assert_eq!(parse(&largest).unwrap().unwrap().0.tlvs, (V2_MAX - 28) / 3);
        let mut tlvs = vec![0x04];
        tlvs.extend_from_slice(&u16::try_from(V2_MAX - 28 - 3).unwrap().to_be_bytes());
        tlvs.resize(V2_MAX - 28, 0);
        let largest = v2(0x21, 0x11, &ipv4_block(&tlvs));
        let (header, len) = parse(&largest).unwrap().unwrap();
        assert_eq!((header.tlvs, len), (1, V2_MAX));
    }

    /// A header fed in pieces is undecided until its last byte and then the same as the
    /// whole; a refusal never needs more than the bytes that prove it.
    #[test]
    fn every_prefix_of_a_header_is_undecided() {
        let headers: Vec<Vec<u8>> = vec![
            b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25\r\n".to_vec(),
            b"PROXY TCP6 2001:db8::1 2001:db8::25 50000 25\r\n".to_vec(),
            b"PROXY UNKNOWN\r\n".to_vec(),
            v2(0x21, 0x11, &ipv4_block(TLVS)),
            v2(0x21, 0x21, &ipv6_block(TLVS)),
            v2(0x20, 0x00, &[]),
        ];
        for header in headers {
            let whole = parse(&header).unwrap().unwrap();
            assert_eq!(whole.1, header.len());
            for cut in 0..header.len() {
                assert_eq!(parse(&header[..cut]), Ok(None), "{header:?} cut at {cut}");
            }
        }
    }

    /// No input makes the parser panic: random bytes, and random changes to real headers.
    #[test]
    fn arbitrary_input_does_not_panic() {
        // xorshift: deterministic, no dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds: Vec<Vec<u8>> = vec![
            b"PROXY TCP4 192.0.2.1 198.51.100.7 50000 25\r\n".to_vec(),
            b"PROXY TCP6 2001:db8::1 2001:db8::25 50000 25\r\n".to_vec(),
            v2(0x21, 0x11, &ipv4_block(TLVS)),
            v2(0x21, 0x21, &ipv6_block(TLVS)),
            v2(0x21, 0x31, &[0; 216]),
        ];
        for round in 0..20_000 {
            let mut input = seeds[round % seeds.len()].clone();
            for _ in 0..(next() % 4) {
                let at = usize::try_from(next()).unwrap() % input.len();
                input[at] = next().to_le_bytes()[0];
            }
            input.truncate(usize::try_from(next()).unwrap() % (input.len() + 1));
            let _ = parse(&input);
            let noise: Vec<u8> = (0..next() % 64).map(|_| next().to_le_bytes()[0]).collect();
            let _ = parse(&noise);
            let mut framed = V2_SIGNATURE.to_vec();
            framed.extend_from_slice(&noise);
            let _ = parse(&framed);
        }
    }
}
