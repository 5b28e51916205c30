//! One request and its answer ([`Exchange`]): how the runner sends a request,
//! what it keeps of the answer, and how it hides every secret (passwords,
//! tokens) from what it records.

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName};
use serde::Serialize;
use serde_json::Value;

use mss_contract::Service;

use super::Ctx;

/// One request and its answer, secrets redacted.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// HTTP method.
    pub method: String,
    /// Path (and query).
    pub path: String,
    /// Request headers sent.
    pub headers: Vec<(String, String)>,
    /// Request body (shortened when long).
    pub body: String,
    /// Answer status; none when no answer came.
    pub status: Option<u16>,
    /// Answer body, or the transport error (shortened when long).
    pub response: String,
    /// Answer headers (none when no answer came), read by [`header`](Self::header).
    #[serde(skip)]
    pub(in crate::conform) answer_headers: HeaderMap,
    #[serde(skip)]
    pub(in crate::conform) json: Option<Value>,
    #[serde(skip)]
    pub(in crate::conform) service: Option<Service>,
    #[serde(skip)]
    pub(in crate::conform) token: bool,
}

impl Exchange {
    /// The answer's header `name`, when it came and is text.
    pub(in crate::conform) fn header(&self, name: HeaderName) -> Option<&str> {
        self.answer_headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The envelope's codigo, empty when there is none.
    pub(in crate::conform) fn codigo(&self) -> &str {
        self.json
            .as_ref()
            .and_then(|j| j.get("codigo"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// A field of the JSON answer.
    pub(in crate::conform) fn field(&self, name: &str) -> Option<&Value> {
        self.json.as_ref().and_then(|j| j.get(name))
    }

    /// Whether the envelope's mensaje names `what`.
    pub(in crate::conform) fn mensaje_names(&self, what: &str) -> bool {
        self.field("mensaje")
            .and_then(Value::as_str)
            .is_some_and(|m| m.contains(what))
    }

    /// What came back, in words: status, codigo, mensaje.
    pub(in crate::conform) fn seen(&self) -> String {
        match self.status {
            None => format!("no answer ({})", self.response),
            Some(s) => {
                let codigo = self.codigo();
                let mensaje = self
                    .field("mensaje")
                    .or_else(|| self.field("error"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let mut out = format!("{s}");
                if !codigo.is_empty() {
                    out.push(' ');
                    out.push_str(codigo);
                }
                if !mensaje.is_empty() {
                    out.push_str(&format!(" ({})", shorten(mensaje, 90)));
                }
                out
            }
        }
    }
}

/// `s` cut to `max` characters, saying how long it was.
pub(in crate::conform) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}… ({} bytes)", s.len())
}

impl Ctx<'_> {
    /// `s` with every secret (passwords, tokens) replaced.
    pub fn redact(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "<redacted>");
            }
        }
        out
    }

    fn redact_form(&self, body: &[u8]) -> String {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
            .map(|(k, v)| {
                let v = if k == "password" {
                    "<redacted>".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            s.append_pair(k, v);
        }
        self.redact(&s.finish())
    }

    /// `POST path` with `body` as JSON.
    pub(in crate::conform) async fn post_json(
        &mut self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Exchange {
        let body = serde_json::to_vec(body).unwrap_or_default();
        let json = [("content-type", "application/json".to_owned())];
        self.send(Method::POST, path, &json, body).await
    }

    /// Send one request and record it.
    pub(in crate::conform) async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Exchange {
        let url = format!("{}{path}", self.setup.base_url);
        let mut req = self.http.request(method.clone(), &url);
        let mut shown = Vec::new();
        let mut form = false;
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
            let display = if name.eq_ignore_ascii_case("authorization") {
                match value.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} <redacted>"),
                    None => "<redacted>".to_owned(),
                }
            } else {
                self.redact(value)
            };
            if name.eq_ignore_ascii_case("content-type")
                && value.starts_with("application/x-www-form-urlencoded")
            {
                form = true;
            }
            shown.push(((*name).to_owned(), display));
        }
        let body_text = if form {
            self.redact_form(&body)
        } else {
            self.redact(&shorten(&String::from_utf8_lossy(&body), 2000))
        };
        let service = Service::ALL.into_iter().find(|s| s.path() == path);
        let mut ex = Exchange {
            method: method.to_string(),
            path: path.to_owned(),
            headers: shown,
            body: body_text,
            status: None,
            response: String::new(),
            answer_headers: HeaderMap::new(),
            json: None,
            service,
            token: path == "/token",
        };
        match req.body(body).send().await {
            Ok(resp) => {
                ex.status = Some(resp.status().as_u16());
                ex.answer_headers = resp.headers().clone();
                match resp.bytes().await {
                    Ok(bytes) => {
                        ex.json = serde_json::from_slice(&bytes).ok();
                        if let Some(token) = ex
                            .json
                            .as_ref()
                            .and_then(|j| j.get("access_token"))
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            self.secrets.push(token.to_owned());
                        }
                        ex.response = self.redact(&shorten(&String::from_utf8_lossy(&bytes), 2000));
                    }
                    Err(e) => ex.response = format!("body unreadable: {e}"),
                }
            }
            Err(e) => ex.response = self.redact(&e.to_string()),
        }
        self.current.push(ex.clone());
        if ex.service.is_some() || ex.token {
            self.log.push(ex.clone());
        }
        ex
    }

    /// POST `body` to `path` with this Content-Type.
    pub(in crate::conform) async fn post_raw(
        &mut self,
        path: &str,
        authorization: Option<String>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Exchange {
        let mut headers = vec![("content-type", content_type.to_owned())];
        if let Some(a) = authorization {
            headers.push(("authorization", a));
        }
        self.send(Method::POST, path, &headers, body).await
    }

    /// POST `body` as JSON to `service`.
    pub(in crate::conform) async fn post(
        &mut self,
        service: Service,
        authorization: Option<String>,
        body: &Value,
    ) -> Exchange {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.post_raw(service.path(), authorization, "application/json", bytes)
            .await
    }
}

/// The media type of a Content-Type, lower case, without parameters.
pub(in crate::conform) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}
