//! Tokens for the checks: which credentials a check uses, the password grant
//! sent by hand (for the token checks), one [`TokenCache`] per client (as
//! `run` has: renewed before it expires, and once on a 401), and a local
//! mss-mock's clock, moved to expire a token.

use reqwest::Method;
use serde_json::Value;

use mss_contract::Service;

use super::{Creds, Ctx, Exchange, OWN, OWN_AFI, OWN_RET, Step, Verdict, fail};
use crate::token::{Credentials, TokenCache, TokenPolicy};

impl Ctx<'_> {
    /// The credentials of client `key`; a skip when there are none.
    pub(in crate::conform) fn creds(&self, key: &str) -> Step<&Creds> {
        self.setup.creds.get(key).ok_or_else(|| {
            Verdict::Skip(match key {
                OWN_AFI | OWN_RET => {
                    "needs one client_id per service (MSS_CLIENT_ID_AFILIACION and MSS_CLIENT_ID_RETRACTO)"
                        .to_owned()
                }
                other => format!("needs credentials of administrator {other}"),
            })
        })
    }

    /// The key of the client that reports to `service` for the administrator
    /// under test.
    pub(in crate::conform) fn key_for(&self, service: Service) -> &'static str {
        if self.setup.creds.contains_key(OWN) {
            OWN
        } else {
            match service {
                Service::Afiliacion => OWN_AFI,
                Service::Retracto => OWN_RET,
            }
        }
    }

    /// The form of a valid password grant of client `key`.
    pub(in crate::conform) fn grant_form(&self, key: &str) -> Step<Vec<(String, String)>> {
        let c = self.creds(key)?;
        Ok(vec![
            ("grant_type".into(), "password".into()),
            ("username".into(), c.username.clone()),
            ("password".into(), c.password.expose().to_owned()),
            ("client_id".into(), c.client_id.clone()),
        ])
    }

    /// POST `pairs` form-encoded to /token.
    pub(in crate::conform) async fn token_request(
        &mut self,
        pairs: &[(String, String)],
    ) -> Exchange {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        let body = s.finish().into_bytes();
        self.send(
            Method::POST,
            "/token",
            &[(
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body,
        )
        .await
    }

    /// A new token of client `key`, asked for by hand (no cache), with the
    /// answer that carried it.
    pub(in crate::conform) async fn fresh_token(&mut self, key: &str) -> Step<(String, Exchange)> {
        let form = self.grant_form(key)?;
        let ex = self.token_request(&form).await;
        match ex
            .field("access_token")
            .and_then(Value::as_str)
            .filter(|_| ex.status == Some(200))
        {
            Some(t) => Ok((t.to_owned(), ex.clone())),
            None => Err(fail(format!(
                "could not get a token for client {key}: {}",
                ex.seen()
            ))),
        }
    }

    /// A token of client `key` usable now and its generation, from the
    /// client's [`TokenCache`] (refreshed before it expires).
    pub(in crate::conform) async fn cached_token(&mut self, key: &str) -> Step<(String, u64)> {
        if !self.tokens.contains_key(key) {
            let c = self.creds(key)?;
            let cache = TokenCache::new(
                self.http.clone(),
                format!("{}/token", self.setup.base_url),
                Credentials {
                    username: c.username.clone(),
                    password: c.password.clone(),
                    client_id: c.client_id.clone(),
                },
                TokenPolicy {
                    timeout: self.setup.timeout,
                    ..TokenPolicy::default()
                },
            );
            self.tokens.insert(key.to_owned(), cache);
        }
        let got = match self.tokens.get(key) {
            Some(cache) => cache.get().await,
            None => return Err(fail("token cache missing")),
        };
        match got {
            Ok(t) => {
                let value = t.value.expose().to_owned();
                if !self.secrets.contains(&value) {
                    self.secrets.push(value.clone());
                }
                Ok((value, t.generation))
            }
            Err(e) => Err(fail(format!("could not get a token for client {key}: {e}"))),
        }
    }

    /// A token of client `key` usable now.
    pub(in crate::conform) async fn token(&mut self, key: &str) -> Step<String> {
        Ok(self.cached_token(key).await?.0)
    }

    /// Send `body` with a token of client `key`; on 401 the token is renewed
    /// once and the request sent again (as `run` does).
    pub(in crate::conform) async fn post_as(
        &mut self,
        service: Service,
        key: &str,
        body: &Value,
    ) -> Step<Exchange> {
        let (token, generation) = self.cached_token(key).await?;
        let ex = self
            .post(service, Some(format!("Bearer {token}")), body)
            .await;
        if ex.status != Some(401) {
            return Ok(ex);
        }
        if let Some(cache) = self.tokens.get(key) {
            cache.invalidate(generation);
        }
        let (token, _) = self.cached_token(key).await?;
        Ok(self
            .post(service, Some(format!("Bearer {token}")), body)
            .await)
    }

    /// Move a separately started mss-mock's clock (`POST /__admin/clock`).
    pub(in crate::conform) async fn move_clock(&mut self, seconds: i64) -> Step<()> {
        let body = serde_json::json!({ "advance_seconds": seconds });
        let ex = self.post_json("/__admin/clock", &body).await;
        if ex.status == Some(200) {
            Ok(())
        } else {
            Err(fail(format!(
                "the mock's clock did not move: {}",
                ex.seen()
            )))
        }
    }
}

/// The lifetime a token answer announces (`expires_in`), within 1 s to an hour.
pub(in crate::conform) fn lifetime_of(answer: &Exchange) -> u64 {
    answer
        .field("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(300)
        .clamp(1, 3600)
}
