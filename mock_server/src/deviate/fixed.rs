//! The catalogue of fixed deviations: each id and what the mock then does
//! wrong. The generated ones (REQ, LEN, ENUM, TYP) come from the contract in
//! [`super::catalogue`].

/// The fixed deviations: id and what the mock then does wrong.
pub const FIXED: &[(&str, &str)] = &[
    (
        "TOK-001",
        "a valid grant is answered with Content-Type text/plain",
    ),
    ("TOK-002", "tokens announce expires_in 3600"),
    ("TOK-003", "a wrong password gets a token"),
    ("TOK-004", "an unknown client_id is answered invalid_grant"),
    (
        "TOK-005",
        "an unsupported grant_type is answered invalid_request",
    ),
    (
        "TOK-006",
        "a request without password is answered invalid_grant",
    ),
    (
        "TOK-007",
        "a token request that is not form-encoded gets 500",
    ),
    ("TOK-008", "token responses lack Cache-Control: no-store"),
    (
        "TOK-009",
        "a repeated token parameter is accepted (the last wins)",
    ),
    ("TOK-010", "token_type is \"mac\""),
    (
        "AUTH-AFI-001",
        "ReportarAfiliaciontraslado: no Authorization is answered 401 AUT02",
    ),
    (
        "AUTH-RET-001",
        "ReportarRetractoAfiliacion: no Authorization is answered 401 AUT02",
    ),
    (
        "AUTH-AFI-002",
        "ReportarAfiliaciontraslado: a malformed Authorization is answered 400 VAL00",
    ),
    (
        "AUTH-RET-002",
        "ReportarRetractoAfiliacion: a malformed Authorization is answered 400 VAL00",
    ),
    (
        "AUTH-AFI-003",
        "ReportarAfiliaciontraslado: an unknown token is answered 401 AUT02",
    ),
    (
        "AUTH-RET-003",
        "ReportarRetractoAfiliacion: an unknown token is answered 401 AUT02",
    ),
    (
        "AUTH-AFI-004",
        "ReportarAfiliaciontraslado: expired tokens are accepted",
    ),
    (
        "AUTH-RET-004",
        "ReportarRetractoAfiliacion: expired tokens are accepted",
    ),
    (
        "AUTH-AFI-005",
        "ReportarAfiliaciontraslado: 401 answers lack WWW-Authenticate",
    ),
    (
        "AUTH-RET-005",
        "ReportarRetractoAfiliacion: 401 answers lack WWW-Authenticate",
    ),
    (
        "AUTH-AFI-006",
        "ReportarAfiliaciontraslado: any client_id may call it",
    ),
    (
        "AUTH-RET-006",
        "ReportarRetractoAfiliacion: any client_id may call it",
    ),
    (
        "AUTH-AFI-007",
        "ReportarAfiliaciontraslado: another administrator's code is accepted",
    ),
    (
        "AUTH-RET-007",
        "ReportarRetractoAfiliacion: another administrator's code is accepted",
    ),
    (
        "AUTH-AFI-008",
        "ReportarAfiliaciontraslado: the Bearer scheme is matched case-sensitively",
    ),
    (
        "AUTH-RET-008",
        "ReportarRetractoAfiliacion: the Bearer scheme is matched case-sensitively",
    ),
    ("ENV-001", "rejections carry Content-Type text/plain"),
    ("ENV-002", "rejections carry resultado \"200\""),
    ("SCH-001", "acceptances omit mensaje"),
    (
        "SCH-002",
        "token errors carry error_description as a number",
    ),
    (
        "FMT-AFI-001",
        "ReportarAfiliaciontraslado: malformed JSON is answered VAL02",
    ),
    (
        "FMT-RET-001",
        "ReportarRetractoAfiliacion: malformed JSON is answered VAL02",
    ),
    (
        "FMT-AFI-002",
        "ReportarAfiliaciontraslado: any Content-Type is accepted",
    ),
    (
        "FMT-RET-002",
        "ReportarRetractoAfiliacion: any Content-Type is accepted",
    ),
    (
        "FMT-AFI-003",
        "ReportarAfiliaciontraslado: a body that is no object is answered VAL01",
    ),
    (
        "FMT-RET-003",
        "ReportarRetractoAfiliacion: a body that is no object is answered VAL01",
    ),
    (
        "FMT-AFI-004",
        "ReportarAfiliaciontraslado: unknown fields are ignored",
    ),
    (
        "FMT-RET-004",
        "ReportarRetractoAfiliacion: unknown fields are ignored",
    ),
    (
        "FUZ-AFI-001",
        "ReportarAfiliaciontraslado: a body that is not UTF-8 gets 500",
    ),
    (
        "FUZ-RET-001",
        "ReportarRetractoAfiliacion: a body that is not UTF-8 gets 500",
    ),
    (
        "RUL-VAL03",
        "document types not valid for pensions are accepted",
    ),
    (
        "RUL-VAL04",
        "regimenDestino is not checked against the administrator",
    ),
    ("RUL-VAL05", "DIVIPOLA codes are not checked"),
    ("RUL-NEG01", "an exact resend is accepted again"),
    (
        "RUL-NEG02",
        "the age limit of regime transfers is not applied",
    ),
    (
        "RUL-NEG03",
        "the 5 years between regime transfers are not applied",
    ),
    (
        "RUL-NEG04",
        "the 6 months before an administrator switch are not applied",
    ),
    (
        "RUL-NEG05",
        "transfers from an administrator that is not the current one are accepted",
    ),
    (
        "RUL-NEG10",
        "a retraction of an unknown affiliation is answered 409 NEG12",
    ),
    ("RUL-NEG11", "the retraction window is not applied"),
    ("RUL-NEG12", "a second retraction is answered 422 NEG10"),
    (
        "DUP-001",
        "a known numeroRadicado with another person is accepted",
    ),
    (
        "DUP-002",
        "the same person, novelty and date under a new numeroRadicado is accepted",
    ),
    (
        "BND-NEG02-EARLY",
        "the regime-transfer age limit is applied a year early (46 women, 51 men)",
    ),
    (
        "BND-NEG02-LATE",
        "the regime-transfer age limit is applied a year late (48 women, 53 men)",
    ),
    (
        "BND-NEG02-29FEB",
        "someone born on 29 February completes a year on 28 February",
    ),
    (
        "BND-NEG03-EARLY",
        "a regime transfer is allowed from the day before the 5th anniversary",
    ),
    (
        "BND-NEG03-LATE",
        "a regime transfer is allowed only from the day after the 5th anniversary",
    ),
    (
        "BND-NEG04-EARLY",
        "an administrator switch is allowed from the day before the 6 months are up",
    ),
    (
        "BND-NEG04-LATE",
        "an administrator switch is allowed only from the day after the 6 months are up",
    ),
    (
        "BND-NEG11-SHORT",
        "the retraction window closes after 4 business days",
    ),
    (
        "BND-NEG11-LONG",
        "the retraction window closes after 6 business days",
    ),
    (
        "BND-NEG11-CALENDAR",
        "the retraction window is counted in calendar days",
    ),
    (
        "BND-NEG11-NO-HOLIDAYS",
        "the retraction window skips weekends but not holidays",
    ),
    (
        "BND-EDAD-EARLY",
        "the minimum age at fechaSolicitud is a year lower",
    ),
    (
        "BND-EDAD-LATE",
        "the minimum age at fechaSolicitud is a year higher",
    ),
    ("RUT-001", "unknown paths are answered 400"),
    ("RUT-002", "405 answers name GET, not POST, in Allow"),
    (
        "RUT-003",
        "GET on ReportarRetractoAfiliacion is answered 404",
    ),
    ("RUT-004", "GET on /token is answered 404"),
    (
        "RUT-005",
        "ReportarAfiliaciontraslado is routed only in the protocol's spelling",
    ),
    (
        "RUT-006",
        "ReportarRetractoAfiliacion is routed only in the protocol's spelling",
    ),
];
