//! Arbitrary valid replies, and EHLO responses built from arbitrary valid parts:
//! `decode(encode(x)) == x`.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sealpost_codec::{
    Capability, EhloResponse, EsmtpValue, Keyword, Limits, Mechanism, Reply, ReplyDecoder, Text,
};
use sealpost_codec_fuzz::{check_ehlo_roundtrip, check_reply_roundtrip};

/// One capability with a valid parameter; `Unknown` keywords get an "X-" prefix so that
/// they never name a typed extension.
fn capability(u: &mut Unstructured<'_>) -> arbitrary::Result<Capability<'static>> {
    let text = |u: &mut Unstructured<'_>| Text::arbitrary(u).map(Text::into_owned);
    Ok(match u.int_in_range(0..=15)? {
        0 => Capability::Size(Option::arbitrary(u)?),
        1 => Capability::Pipelining,
        2 => Capability::EightBitMime,
        3 => Capability::BinaryMime,
        4 => Capability::Chunking,
        5 => Capability::SmtpUtf8,
        6 => Capability::Dsn,
        7 => Capability::EnhancedStatusCodes,
        8 => Capability::StartTls,
        9 => {
            let mut mechanisms = vec![Mechanism::arbitrary(u)?];
            mechanisms.extend(Vec::<Mechanism<'static>>::arbitrary(u)?);
            Capability::Auth(mechanisms)
        }
        10 => Capability::RequireTls,
        11 => Capability::MtPriority(Option::arbitrary(u)?),
        // RFC 2852: min-by-time is 1*9DIGIT.
        12 => Capability::DeliverBy(if bool::arbitrary(u)? {
            Some(u.int_in_range(0..=999_999_999)?)
        } else {
            None
        }),
        13 => {
            let mut pairs = vec![<(Keyword<'static>, EsmtpValue<'static>)>::arbitrary(u)?];
            pairs.extend(Vec::<(Keyword<'static>, EsmtpValue<'static>)>::arbitrary(u)?);
            Capability::Limits(Limits(pairs))
        }
        14 => {
            let keyword = Keyword::new(format!("X-{}", Keyword::arbitrary(u)?))
                .map_err(|_| arbitrary::Error::IncorrectFormat)?;
            let params = if bool::arbitrary(u)? { Some(text(u)?) } else { None };
            Capability::Unknown { keyword, params }
        }
        // Not keyword-shaped: starts with "=".
        _ => Capability::Other(
            Text::new(format!("={}", text(u)?)).map_err(|_| arbitrary::Error::IncorrectFormat)?,
        ),
    })
}

fn ehlo(u: &mut Unstructured<'_>) -> arbitrary::Result<EhloResponse<'static>> {
    let domain = Text::arbitrary(u)?.as_str().replace(' ', "");
    let domain = Text::new(domain).map_err(|_| arbitrary::Error::IncorrectFormat)?;
    let greeting = if bool::arbitrary(u)? { Some(Text::arbitrary(u)?.into_owned()) } else { None };
    let mut capabilities = Vec::new();
    for _ in 0..u.int_in_range(0..=8)? {
        capabilities.push(capability(u)?);
    }
    Ok(EhloResponse { domain, greeting, capabilities })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(reply) = Reply::arbitrary(&mut u) else {
        return;
    };
    let decoder = ReplyDecoder::new();
    check_reply_roundtrip(&decoder, &reply);
    if let Ok(ehlo) = ehlo(&mut u) {
        check_ehlo_roundtrip(&ehlo);
    }
});
