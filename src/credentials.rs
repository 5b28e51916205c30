//! Credentials of a real endpoint: from environment variables or from a
//! credentials file that only its owner can read — never from flags. One
//! client_id for both services, or one per service.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::secret::Secret;

/// "Usuario de conexión", "Password" (a [`Secret`]: never printed) and the
/// client_id(s).
#[derive(Clone, Debug)]
pub struct CredentialSet {
    /// "Usuario de conexión".
    pub username: String,
    /// "Password".
    pub password: Secret,
    /// One client_id for both services.
    pub client_id: Option<String>,
    /// The client_id of ReportarAfiliaciontraslado.
    pub client_id_afiliacion: Option<String>,
    /// The client_id of ReportarRetractoAfiliacion.
    pub client_id_retracto: Option<String>,
}

impl CredentialSet {
    /// The client_ids for (ReportarAfiliaciontraslado, ReportarRetractoAfiliacion).
    pub fn client_ids(&self) -> anyhow::Result<(String, String)> {
        match (
            &self.client_id_afiliacion,
            &self.client_id_retracto,
            &self.client_id,
        ) {
            (Some(a), Some(r), _) => Ok((a.clone(), r.clone())),
            (_, _, Some(both)) => Ok((both.clone(), both.clone())),
            _ => bail!(
                "no client_id: give client_id, or both client_id_afiliacion and client_id_retracto"
            ),
        }
    }

    fn check(self, origin: &str) -> anyhow::Result<Self> {
        if self.username.is_empty() || self.password.expose().is_empty() {
            bail!("{origin}: username and password must not be empty");
        }
        // The template `mss-harness init` writes, not yet filled in.
        let placeholder = [
            ("username", Some(self.username.as_str())),
            ("password", Some(self.password.expose())),
            ("client_id", self.client_id.as_deref()),
            ("client_id_afiliacion", self.client_id_afiliacion.as_deref()),
            ("client_id_retracto", self.client_id_retracto.as_deref()),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some_and(|v| v.starts_with(PLACEHOLDER)))
        .map(|(k, _)| k)
        .collect::<Vec<_>>();
        if !placeholder.is_empty() {
            bail!(
                "{origin}: {} still hold{} the template's placeholder; put the ministry's values in",
                placeholder.join(", "),
                if placeholder.len() == 1 { "s" } else { "" }
            );
        }
        self.client_ids().with_context(|| origin.to_owned())?;
        Ok(self)
    }
}

/// How the values of the template `mss-harness init` writes begin.
pub const PLACEHOLDER: &str = "REPLACE-";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    username: String,
    password: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_id_afiliacion: Option<String>,
    #[serde(default)]
    client_id_retracto: Option<String>,
}

/// Read a credentials file (TOML: `username`, `password`, `client_id` or
/// `client_id_afiliacion` + `client_id_retracto`). Refused when the group or
/// others may read it. Errors never quote the file's text.
pub fn from_file(path: &Path) -> anyhow::Result<CredentialSet> {
    let shown = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("credentials file {shown}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "credentials file {shown} may be read by its group or others (mode {mode:o}); `chmod 600 {shown}`"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("credentials file {shown}"))?;
    let parsed: FileFormat = toml::from_str(&text).map_err(|e| {
        // The parser's message names the key; its source snippet could show
        // the password, so only the line is given.
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        anyhow::anyhow!(
            "credentials file {shown}{}: {}",
            line.map(|l| format!(" line {l}")).unwrap_or_default(),
            e.message()
        )
    })?;
    CredentialSet {
        username: parsed.username,
        password: Secret::new(parsed.password),
        client_id: parsed.client_id,
        client_id_afiliacion: parsed.client_id_afiliacion,
        client_id_retracto: parsed.client_id_retracto,
    }
    .check(&format!("credentials file {shown}"))
}

fn var(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .with_context(|| format!("credentials: environment variable {name} is not set"))
}

fn optional(name: Option<&str>) -> anyhow::Result<Option<String>> {
    name.map(var).transpose()
}

/// Credentials from the named environment variables.
pub fn from_env(
    username: &str,
    password: &str,
    client_id: Option<&str>,
    client_id_afiliacion: Option<&str>,
    client_id_retracto: Option<&str>,
) -> anyhow::Result<CredentialSet> {
    CredentialSet {
        username: var(username)?,
        password: Secret::new(var(password)?),
        client_id: optional(client_id)?,
        client_id_afiliacion: optional(client_id_afiliacion)?,
        client_id_retracto: optional(client_id_retracto)?,
    }
    .check("credentials")
}

/// The command-line default: `--credentials FILE`, else `MSS_USERNAME`,
/// `MSS_PASSWORD` and `MSS_CLIENT_ID` (or `MSS_CLIENT_ID_AFILIACION` and
/// `MSS_CLIENT_ID_RETRACTO`).
pub fn from_file_or_env(file: Option<&Path>) -> anyhow::Result<CredentialSet> {
    if let Some(f) = file {
        return from_file(f);
    }
    let set = |n: &str| std::env::var(n).is_ok_and(|v| !v.is_empty());
    from_env(
        "MSS_USERNAME",
        "MSS_PASSWORD",
        set("MSS_CLIENT_ID").then_some("MSS_CLIENT_ID"),
        set("MSS_CLIENT_ID_AFILIACION").then_some("MSS_CLIENT_ID_AFILIACION"),
        set("MSS_CLIENT_ID_RETRACTO").then_some("MSS_CLIENT_ID_RETRACTO"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(mode: u32, text: &str) -> tempfile::TempPath {
        let f = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(f.path(), text).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
        }
        f.into_temp_path()
    }

    /// A well-formed credentials file of mode `mode` holding `password`.
    fn valid(mode: u32, password: &str) -> tempfile::TempPath {
        let text = format!("username = \"u\"\npassword = \"{password}\"\nclient_id = \"c\"\n");
        write(mode, &text)
    }

    #[test]
    fn a_private_file_is_read_and_its_password_never_printed() {
        let p = valid(0o600, "CANARIO-1");
        let c = from_file(&p).expect("read");
        assert_eq!(c.client_ids().expect("ids"), ("c".into(), "c".into()));
        assert!(!format!("{c:?}").contains("CANARIO-1"));
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_may_read_is_refused() {
        let p = valid(0o644, "p");
        let e = from_file(&p).expect_err("refused");
        assert!(e.to_string().contains("644"), "{e}");
    }

    #[test]
    fn errors_name_the_line_not_the_text() {
        let p = write(
            0o600,
            "username = \"u\"\npassword = \"CANARIO-2\nclient_id = 3\n",
        );
        let e = format!("{:#}", from_file(&p).expect_err("bad"));
        assert!(!e.contains("CANARIO-2"), "{e}");
        assert!(e.contains("line"), "{e}");
        let p = write(0o600, "username = \"u\"\npassword = \"p\"\n");
        let e = format!("{:#}", from_file(&p).expect_err("no client id"));
        assert!(e.contains("client_id"), "{e}");
    }
}
