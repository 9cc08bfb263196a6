//! Validated, lossless SMTP values.

pub(crate) mod domain;
pub(crate) mod mailbox;
pub(crate) mod path;
pub(crate) mod text;
pub(crate) mod xtext;

#[cfg(feature = "arbitrary")]
pub(crate) mod arb {
    //! Helpers to build valid values from fuzzer input.

    use arbitrary::{Result, Unstructured};

    /// A string of `min..=max` ASCII bytes, each mapped into the class `allowed`.
    pub(crate) fn arb_string(
        u: &mut Unstructured<'_>,
        min: usize,
        max: usize,
        allowed: impl Fn(u8) -> bool,
    ) -> Result<String> {
        let class: Vec<u8> = (0u8..128).filter(|&b| allowed(b)).collect();
        let len = u.int_in_range(min..=max)?;
        let mut out = String::with_capacity(len);
        for _ in 0..len {
            out.push(char::from(*u.choose(&class)?));
        }
        Ok(out)
    }
}
