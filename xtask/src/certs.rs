//! `cargo xtask certs`: the test PKI in `tests/pki/`, generated with rcgen and checked with
//! the `openssl` command-line program.

mod check;
mod keys;
mod plan;
mod readme;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, IsCa, Issuer,
    KeyPair, SanType, date_time_ymd,
};

use crate::install;
use crate::sh::Sh;
use plan::{Role, SPECS, San, Signer, Spec};

/// Where the test PKI lives, relative to the workspace root.
pub(crate) const DEFAULT_DIR: &str = "tests/pki";

/// Options of `cargo xtask certs`.
#[derive(clap::Args)]
pub(crate) struct CertsArgs {
    /// Folder to write (relative to the workspace root).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    out: PathBuf,
    /// Generate nothing: only run the openssl checks on the files already there.
    #[arg(long)]
    check: bool,
}

/// `cargo xtask certs`.
pub(crate) fn run(sh: &mut Sh, args: &CertsArgs) -> Result<()> {
    let dir = sh.root().join(&args.out);
    if args.check {
        return check(sh, &dir);
    }
    // The checks need openssl: find out before replacing anything.
    install::ensure_openssl(sh)?;
    generate(&dir)?;
    check(sh, &dir)?;
    let openssl = sh.read(sh.cmd("openssl").arg("version"))?;
    let readme = dir.join("README.md");
    std::fs::write(&readme, readme::render(sh, openssl.trim()))
        .with_context(|| format!("writing {}", readme.display()))?;
    println!("wrote {} certificates and README.md to {}", SPECS.len(), dir.display());
    Ok(())
}

/// Runs the openssl checks on the PKI in `dir`.
pub(crate) fn check(sh: &Sh, dir: &Path) -> Result<()> {
    if !dir.join("ca-bundle.pem").is_file() {
        bail!(
            "{} has no ca-bundle.pem: generate the test PKI with `cargo xtask certs`",
            dir.display()
        );
    }
    check::files(sh, dir)?;
    let count = check::run_all(sh, dir)?;
    println!("all {count} openssl checks of {} passed", dir.display());
    Ok(())
}

/// An issuing certificate kept for signing the ones after it.
struct Authority {
    name: &'static str,
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

/// Writes every certificate, key and chain of [`SPECS`], plus `ca-bundle.pem`, into `dir`.
fn generate(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    remove_generated(dir)?;
    let mut authorities: Vec<Authority> = Vec::new();
    for spec in SPECS {
        println!("generating {} ({})", spec.name, spec.key.describe());
        let key = spec.key.generate()?;
        let params = params(spec)?;
        let cert = sign(spec, &params, &key, &authorities)?;
        let pem = cert.pem();
        write(dir, &format!("{}.pem", spec.name), &pem)?;
        write(dir, &format!("{}-key.pem", spec.name), &key.serialize_pem())?;
        if spec.has_chain() {
            let intermediate = find(&authorities, Signer::Intermediate)?;
            let chain = format!("{pem}{}", intermediate.pem);
            write(dir, &format!("{}-chain.pem", spec.name), &chain)?;
        }
        if let Role::Ca { .. } = spec.role {
            authorities.push(Authority { name: spec.name, params, key, pem });
        }
    }
    let root = find(&authorities, Signer::Root)?;
    write(dir, "ca-bundle.pem", &root.pem)
}

fn sign(
    spec: &Spec,
    params: &CertificateParams,
    key: &KeyPair,
    authorities: &[Authority],
) -> Result<Certificate> {
    let cert = match spec.signer {
        Signer::SelfSigned => params.self_signed(key)?,
        signer => {
            let authority = find(authorities, signer)?;
            let issuer = Issuer::from_params(&authority.params, &authority.key);
            params.signed_by(key, &issuer)?
        }
    };
    Ok(cert)
}

fn find(authorities: &[Authority], signer: Signer) -> Result<&Authority> {
    let name = signer.name().context("a self-signed certificate has no authority")?;
    authorities
        .iter()
        .find(|a| a.name == name)
        .with_context(|| format!("{name} must be generated before what it signs"))
}

/// The rcgen parameters of `spec`.
fn params(spec: &Spec) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, spec.common_name);
    name.push(DnType::OrganizationName, "sealpost tests");
    params.distinguished_name = name;
    params.not_before = date_time_ymd(spec.not_before.0, spec.not_before.1, spec.not_before.2);
    params.not_after = date_time_ymd(spec.not_after.0, spec.not_after.1, spec.not_after.2);
    params.is_ca = match spec.role {
        Role::Ca { path_len: None } => IsCa::Ca(BasicConstraints::Unconstrained),
        Role::Ca { path_len: Some(limit) } => IsCa::Ca(BasicConstraints::Constrained(limit)),
        // Explicit CA:FALSE, which also makes rcgen write a subject key identifier.
        Role::Leaf => IsCa::ExplicitNoCa,
    };
    params.use_authority_key_identifier_extension = spec.signer != Signer::SelfSigned;
    params.key_usages = spec.key_usages.to_vec();
    params.extended_key_usages = spec.ekus.to_vec();
    for san in spec.sans {
        params.subject_alt_names.push(match *san {
            San::Dns(host) => SanType::DnsName(host.try_into()?),
            San::Ip(address) => SanType::IpAddress(
                address.parse().with_context(|| format!("bad IP address {address}"))?,
            ),
            San::Email(address) => SanType::Rfc822Name(address.try_into()?),
        });
    }
    Ok(params)
}

fn write(dir: &Path, file: &str, contents: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
}

/// Removes the `.pem` files and README of an earlier run, so no stale file survives a rename.
fn remove_generated(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let generated = path.extension().is_some_and(|ext| ext == "pem")
            || path.file_name().is_some_and(|name| name == "README.md");
        if generated {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}
