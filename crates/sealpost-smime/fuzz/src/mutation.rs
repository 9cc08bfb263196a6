//! Byte-level changes to a valid input, chosen by the fuzzer: what reaches deep code (a
//! CMS structure that still parses, a signature over changed content) far more often than
//! random bytes do.

use libfuzzer_sys::arbitrary::{self, Arbitrary};

/// One change; positions are taken modulo the length (plus one, to reach the end).
#[derive(Arbitrary, Clone, Debug)]
pub enum Mutation {
    /// XOR the byte at `at` with `mask`.
    Flip {
        /// Where.
        at: u32,
        /// The bits to flip.
        mask: u8,
    },
    /// Overwrite the byte at `at`.
    Set {
        /// Where.
        at: u32,
        /// The new value.
        value: u8,
    },
    /// Cut everything from `at` on.
    Truncate {
        /// Where.
        at: u32,
    },
    /// Insert bytes before `at`.
    Insert {
        /// Where.
        at: u32,
        /// What.
        bytes: Vec<u8>,
    },
    /// Remove up to `len` bytes from `at` on.
    Remove {
        /// Where.
        at: u32,
        /// How many.
        len: u16,
    },
}

/// `at` as a position in `0..=len`.
fn position(at: u32, len: usize) -> usize {
    at as usize % (len + 1)
}

/// Applies the changes in order.
pub fn apply(data: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        match m {
            Mutation::Flip { at, mask } => {
                let len = data.len();
                if let Some(b) = data.get_mut(position(*at, len)) {
                    *b ^= mask;
                }
            }
            Mutation::Set { at, value } => {
                let len = data.len();
                if let Some(b) = data.get_mut(position(*at, len)) {
                    *b = *value;
                }
            }
            Mutation::Truncate { at } => data.truncate(position(*at, data.len())),
            Mutation::Insert { at, bytes } => {
                let at = position(*at, data.len());
                data.splice(at..at, bytes.iter().copied());
            }
            Mutation::Remove { at, len } => {
                let at = position(*at, data.len());
                let end = (at + usize::from(*len)).min(data.len());
                data.drain(at..end);
            }
        }
    }
}
