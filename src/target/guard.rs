//! The guards of a URL target, before anything is sent: its host must be one
//! of `target.allowed_hosts`, and a host other than this machine (production)
//! must be named by `--confirm-production`; its caps come from the plan.

use crate::usage::usage;

/// Whether `confirm` (`--confirm-production`) names `host`.
pub fn confirms(confirm: Option<&str>, host: &str) -> bool {
    confirm.is_some_and(|c| c.eq_ignore_ascii_case(host))
}

/// Admit a run against `host` (lower-cased): it is allowed, and when it is not
/// this machine, confirmed. `Ok(true)`: a production host.
pub fn admit(host: &str, allowed_hosts: &[String], confirm: Option<&str>) -> anyhow::Result<bool> {
    if !allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Err(usage(format!(
            "target.url: host {host} is not in target.allowed_hosts; nothing was sent"
        )));
    }
    let production = !crate::connect::is_local_host(host);
    if production {
        match confirm {
            Some(c) if c.eq_ignore_ascii_case(host) => {}
            Some(c) => {
                return Err(usage(format!(
                    "--confirm-production {c} does not name the target host {host}; nothing was sent"
                )));
            }
            None => {
                return Err(usage(format!(
                    "{host} is not this machine: a run against it needs --confirm-production {host} \
                     (agree the run with the ministry first; --dry-run shows the plan); nothing was sent"
                )));
            }
        }
    }
    Ok(production)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_production_host_must_be_allowed_and_confirmed() {
        let allowed = ["Ministerio.test".to_owned(), "127.0.0.1".to_owned()];
        assert!(admit("ministerio.test", &allowed, Some("MINISTERIO.test")).expect("admitted"));
        assert!(!admit("127.0.0.1", &allowed, None).expect("this machine"));
        let e = admit("other.test", &allowed, Some("other.test")).expect_err("not allowed");
        assert!(e.to_string().contains("not in target.allowed_hosts"), "{e}");
        let e = admit("ministerio.test", &allowed, None).expect_err("not confirmed");
        assert!(
            e.to_string()
                .contains("needs --confirm-production ministerio.test"),
            "{e}"
        );
        let e = admit("ministerio.test", &allowed, Some("x.test")).expect_err("wrong host");
        assert!(
            e.to_string().contains("does not name the target host"),
            "{e}"
        );
        assert!(confirms(Some("MINISTERIO.TEST"), "ministerio.test"));
        assert!(!confirms(None, "ministerio.test"));
    }
}
