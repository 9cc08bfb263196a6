//! `sealpost smime sign|verify|encrypt|decrypt`: S/MIME on messages read from standard
//! input and written to standard output, on top of the sealpost-smime crate.

mod args;
mod run;

pub(crate) use args::SmimeCommand;
pub(crate) use run::run;
