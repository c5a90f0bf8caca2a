//! The one catalogue of error codes. Every failure any way in (the API, an import, the command
//! line) reports carries one of these codes; the code fixes the HTTP status, and its meaning is
//! listed in the OpenAPI document. The message of each error says what to fix in the case at hand.

use serde_json::Value;

use crate::domain::validate::ValidationErrors;
use crate::storage::StoreError;

macro_rules! catalogue {
    ($($variant:ident => ($code:literal, $status:literal, $meaning:literal, $zh:literal),)*) => {
        /// A stable error code: its snake_case text, its HTTP status and what it means.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the catalogue's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable snake_case text clients match on.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// The HTTP status the code is answered with.
            pub fn status(self) -> u16 {
                match self {
                    $(Code::$variant => $status,)*
                }
            }

            /// What the code means, in general (each error's message says what to fix).
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)*
                }
            }

            /// The same in Chinese: the message of an error of this code when nothing more
            /// particular was written for the case.
            pub fn meaning_zh(self) -> &'static str {
                match self {
                    $(Code::$variant => $zh,)*
                }
            }
        }
    };
}

catalogue! {
    // The request is outside the contract: 400.
    MalformedRequest => ("malformed_request", 400, "The request is not valid HTTP/1.1.", "请求不是有效的 HTTP/1.1 请求，请检查请求行与请求头。"),
    MalformedJson => ("malformed_json", 400, "The body is not valid JSON.", "请求体不是有效的 JSON，请检查括号、引号和逗号。"),
    InvalidBody => ("invalid_body", 400, "The body is not an object of the documented shape, or a field has the wrong type.", "请求体的结构不符合接口文档，或某个字段的类型不对，请对照 /api/v1/openapi.json 修改。"),
    UnknownField => ("unknown_field", 400, "The body has a field the operation does not know.", "请求体含有此操作不认识的字段，请删除它（字段名见接口文档）。"),
    InvalidQuery => ("invalid_query", 400, "A query parameter is unknown, malformed or out of range.", "查询参数未知、格式不对或超出范围，请对照接口文档修改。"),
    InvalidPath => ("invalid_path", 400, "A path parameter does not fit.", "路径参数不符合要求。"),
    InvalidId => ("invalid_id", 400, "A path id is not an id (ids are hyphenated UUIDs).", "路径中的编号不是有效编号（编号是带连字符的 UUID）。"),
    InvalidIfMatch => ("invalid_if_match", 400, "If-Match does not carry a version number.", "If-Match 应当是版本号，例如 \"3\"。"),
    QueryTooLong => ("query_too_long", 400, "The search text is longer than allowed.", "检索词过长，请缩短后再试。"),
    TooManyTransfers => ("too_many_transfers", 400, "A report asks for more transfers than one answer lists.", "报表涉及的转化记录超过单次可列出的数量，请缩小时间范围或加筛选条件。"),
    // Who is asking: 401 and 403.
    Unauthenticated => ("unauthenticated", 401, "No valid bearer token was sent.", "未提供有效的访问令牌：请在 Authorization 头中带上 Bearer 令牌。"),
    TokenExpired => ("token_expired", 401, "The token has expired: ask an administrator for a new one.", "访问令牌已过期，请向管理员申请新令牌。"),
    TokenRevoked => ("token_revoked", 401, "The token was revoked: ask an administrator for a new one.", "访问令牌已被吊销，请向管理员申请新令牌。"),
    InvalidCredentials => ("invalid_credentials", 401, "The login or the password is wrong (which one is not said).", "登录名或密码不正确。"),
    SessionExpired => ("session_expired", 401, "The session has ended (signed out, idle too long, past its limit, or ended by a password change): sign in again.", "登录已失效（已退出、长时间未操作、超过时限或密码已修改），请重新登录。"),
    Forbidden => ("forbidden", 403, "Your role or organisation may not do this.", "您的角色或所在机构无权执行此操作。"),
    OrganisationPending => ("organisation_pending", 403, "The organisation's application to join is not approved yet: its records stay private drafts, it imports nothing and sees only its own.", "贵单位的入驻申请尚未通过审核：在此之前只能保存为不公开的草稿（visibility 为 private），不能导入，也只能看到本单位的记录。"),
    CsrfRejected => ("csrf_rejected", 403, "A write signed in by the session cookie needs the header `X-CSRF-Token` with the session's CSRF token.", "通过会话 Cookie 提交的修改需要在 X-CSRF-Token 头中带上登录时返回的 CSRF 令牌。"),
    PasswordChangeRequired => ("password_change_required", 403, "The password was reset by an admin: change it (PUT /api/v1/me/password) before anything else.", "密码已被管理员重置：请先修改密码（PUT /api/v1/me/password），再进行其他操作。"),
    // What is asked for: 404, 405.
    NotFound => ("not_found", 404, "No such record, or not one you may see.", "没有这条记录，或您无权查看。"),
    RouteNotFound => ("route_not_found", 404, "No route has this path (or this action).", "没有这个接口路径（或这个操作），请对照接口文档 /docs。"),
    MethodNotAllowed => ("method_not_allowed", 405, "The path exists but not with this method; `Allow` lists the methods.", "此路径不支持该请求方法，Allow 头列出了可用的方法。"),
    RequestTimeout => ("request_timeout", 408, "The request's head did not arrive in time.", "请求头未能按时到达，请重试。"),
    // The state of what is changed: 409.
    VersionConflict => ("version_conflict", 409, "The record changed since you read it: read it again and resend with the new version.", "记录已被他人修改：请重新读取，在新版本上修改后带上新版本号提交。"),
    AlreadyExists => ("already_exists", 409, "A record with the same unique value exists.", "已有相同唯一值的记录。"),
    AlreadyRevoked => ("already_revoked", 409, "The token was revoked before.", "该令牌此前已被吊销。"),
    LoginTaken => ("login_taken", 409, "Another user has this login.", "该手机号或邮箱已被其他用户使用。"),
    InvalidStatusTransition => ("invalid_status_transition", 409, "The record's status does not allow this action; `details.allowed` lists what does.", "记录当前的状态不允许此操作，details.allowed 列出了可做的操作。"),
    InvalidDockingTransition => ("invalid_docking_transition", 409, "The docking's state does not allow this action; `details.allowed` lists what does.", "对接当前的状态不允许此操作，details.allowed 列出了可做的操作。"),
    DockingClosed => ("docking_closed", 409, "The docking is closed (signed, rejected, failed or withdrawn).", "该对接已结束（已签约、已拒绝、已失败或已撤回）。"),
    AlreadyDelivering => ("already_delivering", 409, "The delivery is pending already: it is sent at its next attempt.", "该投递正在等待发送，无需重新投递。"),
    DockingExists => ("docking_exists", 409, "The pair already has an open docking.", "这对需求与成果已有进行中的对接。"),
    RegistrationNumberTaken => ("registration_number_taken", 409, "Another transfer has this contract registration number.", "已有其他转化记录使用这个技术合同登记号，请核对登记号。"),
    // Sizes and media: 413, 414, 415, 431.
    PayloadTooLarge => ("payload_too_large", 413, "The body is larger than accepted.", "请求体超过允许的大小。"),
    FileTooLarge => ("file_too_large", 413, "The import file is larger than accepted (bytes, rows, cells or unpacked size).", "导入文件超过允许的大小（字节数、行数、单元格数或解压后的大小），请拆分后导入。"),
    UriTooLong => ("uri_too_long", 414, "The URL is too long: send long inputs in a body.", "URL 过长：较长的输入请放在请求体中发送。"),
    UnsupportedMediaType => ("unsupported_media_type", 415, "The body's Content-Type is not one the operation reads.", "请求体的 Content-Type 不是此操作接受的类型。"),
    HeadersTooLarge => ("headers_too_large", 431, "The request's headers are too large.", "请求头过大。"),
    // Well-formed but not acceptable: 422.
    ValidationFailed => ("validation_failed", 422, "Fields are invalid; `details.fields` lists every problem.", "有字段不符合要求，details.fields 逐项列出了问题。"),
    ReadOnlyField => ("read_only_field", 422, "A field only the service sets was sent.", "发送了只能由系统设置的字段，请删除它。"),
    FieldNotAllowed => ("field_not_allowed", 422, "A field does not apply to this operation or caller.", "某个字段不适用于此操作或当前用户，请删除它。"),
    FieldRequired => ("field_required", 422, "A field this operation needs is missing.", "缺少此操作必需的字段。"),
    ConflictingParameters => ("conflicting_parameters", 422, "Valid parameters that contradict each other.", "参数彼此矛盾，请只保留其中之一。"),
    VersionMismatch => ("version_mismatch", 422, "If-Match and the body name different versions.", "If-Match 与请求体中的版本号不一致。"),
    OrgIdRequired => ("org_id_required", 422, "Managers act on behalf of an organisation: name it.", "技术经理人和管理员代机构发布，请用 org_id 指明机构。"),
    UnknownOrganisation => ("unknown_organisation", 422, "No organisation has this id or name.", "没有这个编号或名称的机构。"),
    WrongOrganisationKind => ("wrong_organisation_kind", 422, "The organisation's kind cannot own records of this library.", "该类机构不能拥有此库的记录：企业发布需求，高校和科研院所发布成果。"),
    NotAManager => ("not_a_manager", 422, "The user is not a technology manager.", "该用户不是技术经理人。"),
    InvalidReason => ("invalid_reason", 422, "The action needs a reason code (and, for `other`, a note), or takes none.", "此操作需要原因代码（选 other 时还需备注），或不接受原因。"),
    InvalidNote => ("invalid_note", 422, "A note must be 1 to 2000 characters.", "备注应为 1 到 2000 个字符。"),
    InvalidBulkAction => ("invalid_bulk_action", 422, "Bulk review takes accept or reject.", "批量审核只接受 accept 或 reject。"),
    InvalidBulkIds => ("invalid_bulk_ids", 422, "Bulk review takes 1 to 200 ids.", "批量审核一次接受 1 到 200 个编号。"),
    ContractRequired => ("contract_required", 422, "Signing needs the contract.", "签约需要提供合同信息 contract。"),
    ContractNotAccepted => ("contract_not_accepted", 422, "A contract goes only with the action sign.", "合同信息只能随签约（sign）提交。"),
    UnreadableFile => ("unreadable_file", 422, "The import file cannot be read in the format and encoding given.", "无法按给定的格式和编码读取导入文件。"),
    MissingColumn => ("missing_column", 422, "The import file lacks a required column.", "导入文件缺少必需的列。"),
    ImportInvalid => ("import_invalid", 422, "Rows of the import are invalid; nothing was written; `details` is the report.", "导入文件中有无效的行，未写入任何数据；details 是逐行报告。"),
    WebhookRefused => ("webhook_refused", 422, "The webhook URL is refused: only http(s) to public addresses (the message says which check failed).", "回调地址不被接受：只能是指向公网地址的 http 或 https 地址（消息中说明了未通过的检查）。"),
    RenewalNeedsDeadline => ("renewal_needs_deadline", 422, "The need's deadline has passed: renew it with a new `deadline`.", "需求的截止日期已过：续期时请给出新的截止日期 deadline。"),
    ExportTooLarge => ("export_too_large", 422, "The export would have more rows than allowed: narrow the filter.", "导出的行数超过上限，请用筛选条件缩小范围。"),
    // Too many attempts: 429.
    TooManyAttempts => ("too_many_attempts", 429, "Too many failed sign-ins for this login or from this address: try again after `Retry-After` seconds.", "该账号或该地址登录失败次数过多，请在 Retry-After 秒后再试。"),
    // The version the write expects: 428.
    VersionRequired => ("version_required", 428, "Send the version you read, as If-Match or `version`.", "请带上您读取到的版本号：If-Match 头或 version 字段。"),
    // The service: 500, 503.
    InternalError => ("internal_error", 500, "The service failed; the request id locates the log entry.", "服务内部出错，已记录日志；报告问题时请提供请求编号。"),
    Busy => ("busy", 503, "The service runs as much heavy work as it allows; try again after `Retry-After` seconds.", "服务正在执行允许的最多项重任务，请在 Retry-After 秒后重试。"),
    StorageFull => ("storage_full", 507, "The database's storage is full: nothing was saved. Retry after the operator frees space; readiness reports it meanwhile.", "服务器存储空间已满，这次修改没有保存：请稍后重试，并请管理员清理磁盘空间。"),
    DatabaseUnavailable => ("database_unavailable", 503, "The database could not be reached (a lost connection, a restart, no connection free); the operation may not have completed. Retry after `Retry-After` seconds: an update carries its version, so a retry never applies it twice.", "暂时连不上数据库（连接中断、数据库重启或连接已满），这次操作可能没有完成：请在 Retry-After 秒后重试。"),
    NotReady => ("not_ready", 503, "The service is starting or its database does not answer.", "服务正在启动，或数据库无响应。"),
    RequestRejected => ("request_rejected", 400, "The HTTP layer refused the request before it reached an operation.", "请求在到达业务操作之前被 HTTP 层拒绝。"),
}

/// An error of an operation: its code, what to fix, and structured detail.
#[derive(Debug, Clone)]
pub struct Error {
    pub code: Code,
    /// What to fix, in English (`Accept-Language: en`).
    pub message: String,
    /// What to fix, in Chinese (the default); the code's Chinese meaning when none was written.
    pub message_zh: Option<String>,
    pub details: Option<Value>,
    /// Seconds after which the caller may try again (with `Busy`).
    pub retry_after: Option<u64>,
    /// The methods a path accepts (with `MethodNotAllowed`).
    pub allow: Option<&'static str>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error { code, message: message.into(), message_zh: None, details: None, retry_after: None, allow: None }
    }

    /// The message in Chinese.
    pub fn zh(mut self, message: impl Into<String>) -> Error {
        self.message_zh = Some(message.into());
        self
    }

    /// What to fix, in Chinese: the message written for the case, or the code's meaning with
    /// the particulars of the English message (the parameter or field it names) beside it.
    pub fn message_zh(&self) -> String {
        self.message_zh.clone().unwrap_or_else(|| format!("{}（{}）", self.code.meaning_zh(), self.message))
    }

    pub fn with_details(mut self, details: Value) -> Error {
        self.details = Some(details);
        self
    }

    pub fn with_allow(mut self, methods: &'static str) -> Error {
        self.allow = Some(methods);
        self
    }

    pub fn not_found(what: &str, id: &str) -> Error {
        Error::new(Code::NotFound, format!("no {what} with id `{id}` that you may see"))
            .zh(format!("没有编号为 `{id}` 的{}，或您无权查看", library_zh(what)))
    }

    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(Code::Forbidden, message)
    }

    pub fn internal() -> Error {
        Error::new(
            Code::InternalError,
            "the server failed to handle the request; it has been logged, quote the request id when reporting it",
        )
        .zh("服务处理请求时出错，已记录日志；报告问题时请提供请求编号 request_id")
    }

    /// The service is at its limit of heavy work: try again after `seconds`.
    pub fn busy(seconds: u64, what: &str) -> Error {
        let mut e = Error::new(
            Code::Busy,
            format!(
                "the service is already running as many {what} as it allows at once; try again in {seconds} seconds"
            ),
        );
        e.message_zh = Some(format!("服务同时运行的{}已达上限，请在 {seconds} 秒后重试", library_zh(what)));
        e.retry_after = Some(seconds);
        e
    }

    /// The record was changed since it was read.
    pub fn version_conflict(current: i64) -> Error {
        StoreError::VersionConflict { current }.into()
    }
}

/// The Chinese name of what an English message names (a library, a kind of record or work).
pub fn library_zh(what: &str) -> &str {
    match what {
        "need" => "需求",
        "needs" => "需求",
        "achievement" => "成果",
        "achievements" => "成果",
        "docking" => "对接",
        "transfer" => "转化记录",
        "user" => "用户",
        "organisation" => "机构",
        "token" => "令牌",
        "imports" => "导入任务",
        "exports" => "导出任务",
        "reports" => "报表任务",
        "index rebuilds" => "索引重建任务",
        other => other,
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

impl From<ValidationErrors> for Error {
    fn from(errors: ValidationErrors) -> Self {
        Error::new(Code::ValidationFailed, errors.summary())
            .zh(errors.summary_zh())
            .with_details(serde_json::json!({ "fields": errors.0 }))
    }
}

/// After a lost database connection, when a client may try again (`Retry-After`).
const DATABASE_RETRY_SECS: u64 = 2;

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::VersionConflict { current } => Error::new(
                Code::VersionConflict,
                format!("the record was changed by someone else and is now at version {current}; read it again, reapply your change and send it with that version"),
            )
            .zh(format!("记录已被他人修改，现在是第 {current} 版：请重新读取，在新版本上重做修改，并带上该版本号提交"))
            .with_details(serde_json::json!({ "current_version": current })),
            StoreError::NotFound => Error::new(Code::NotFound, "the record no longer exists").zh("这条记录已不存在"),
            StoreError::UniqueViolation { constraint } => Error::new(
                Code::AlreadyExists,
                format!("a record with the same unique value already exists ({constraint})"),
            )
            .zh(format!("已有相同唯一值的记录（{constraint}）")),
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "the database could not be reached");
                let mut e = Error::new(
                    Code::DatabaseUnavailable,
                    format!("the database could not be reached; the operation may not have completed: retry in {DATABASE_RETRY_SECS} seconds"),
                )
                .zh(format!("暂时连不上数据库，这次操作可能没有完成：请在 {DATABASE_RETRY_SECS} 秒后重试"));
                e.retry_after = Some(DATABASE_RETRY_SECS);
                e
            }
            StoreError::Full(detail) => {
                tracing::error!(%detail, "the database's storage is full; the write was refused");
                Error::new(Code::StorageFull, "the database's storage is full and nothing was saved; retry after the operator frees space")
                    .zh(Code::StorageFull.meaning_zh())
            }
            other => {
                tracing::error!(error = %other, "storage failed");
                Error::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_distinct_snake_case_with_a_client_or_server_status() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(text.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{text}");
            assert!((400..600).contains(&code.status()), "{text}");
            assert!(!code.meaning().is_empty());
        }
    }

    /// A lost connection is a 503 the client may retry; a full disk a 507; in Chinese by default.
    #[test]
    fn storage_faults_have_their_own_codes() {
        let lost = StoreError::from(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
        let e = Error::from(lost);
        assert_eq!(
            (e.code, e.code.status(), e.retry_after),
            (Code::DatabaseUnavailable, 503, Some(DATABASE_RETRY_SECS))
        );
        assert!(e.message_zh().contains("连不上数据库"), "{}", e.message_zh());
        let timed_out = Error::from(StoreError::from(sqlx::Error::PoolTimedOut));
        assert_eq!(timed_out.code, Code::DatabaseUnavailable);
        let full = Error::from(StoreError::Full("disk".into()));
        assert_eq!((full.code, full.code.status()), (Code::StorageFull, 507));
        assert!(full.message_zh().contains("存储空间已满"), "{}", full.message_zh());
        assert!(StoreError::from(sqlx::Error::PoolClosed).is_closed(), "a shutdown is not a lost connection");
    }
}
