//! The replies the server session writes itself: [`crate::replies`], by RFC 5321 /
//! RFC 3463 meaning.

pub(crate) use crate::replies::*;

/// The name the session code uses for a fixed reply.
pub(crate) type Canned = crate::replies::StandardReply;

impl Canned {
    pub(crate) fn build(self, enhanced: bool) -> crate::reply::Reply<'static> {
        self.reply(enhanced)
    }
}
