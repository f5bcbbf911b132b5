//! Issuers beyond exact comparison, at the protocol level: the multi-tenant
//! issuer template (`https://login.microsoftonline.com/{tenantid}/v2.0`, as
//! Entra ID's `common` and `organizations` metadata publish it), the
//! [`TenantPolicy`] that says which tenants it admits, and the recognition of
//! Entra ID version 1.0 tokens. The provider and token layers use these; the
//! config holds a policy. Nothing here imports the config.

/// The placeholder in multi-tenant metadata.
pub(crate) const PLACEHOLDER: &str = "{tenantid}";
/// The issuer hosts of Entra ID version 1.0 tokens (`https://<host>/<tenant>/`):
/// every cloud's but China's, and China's. The one list: the provider's
/// recognition of v1.0 metadata and the tokens' v1.0 refusal both read it.
pub(crate) const V1_HOSTS: [&str; 2] = ["sts.windows.net", "sts.chinacloudapi.cn"];

/// Which Entra ID tenants may sign in to a multi-tenant app (one configured
/// with the tenant `common` or `organizations`).
///
/// Entra's multi-tenant metadata names no single issuer; with a policy, the
/// ID token's `iss` must equal
/// `https://login.microsoftonline.com/<the token's tid>/v2.0` and its `tid`
/// must be allowed. There is no policy that turns the issuer check off.
///
/// In TOML: `entra = { tenant = "organizations", allowed_tenants = ["..."] }`,
/// or `allow_any_tenant = true`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TenantPolicy {
    /// Only these tenant ids (GUIDs, as in the token's `tid`).
    Only(Vec<String>),
    /// Any Entra ID tenant, and with `common` any personal Microsoft account.
    ///
    /// # Security
    /// Anyone who can create an Entra tenant can then sign in. Use it only
    /// when the app decides access itself (by role mapping with
    /// [`NoRolePolicy::Refuse`](crate::NoRolePolicy::Refuse), or by account),
    /// and never trust a group id or app role alone without knowing the
    /// tenant it came from (`identity.claim("tid")`). Discovery logs a
    /// warning with this policy.
    AnyTenant,
}

impl TenantPolicy {
    /// Whether the tenant id `tid` may sign in.
    pub fn allows(&self, tid: &str) -> bool {
        match self {
            Self::Only(tenants) => tenants.iter().any(|t| t.eq_ignore_ascii_case(tid)),
            Self::AnyTenant => true,
        }
    }
}

/// A GUID in its usual text form (`8-4-4-4-12` hex digits), any case.
pub(crate) fn is_guid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The multi-tenant issuer template, split around `{tenantid}` once.
#[derive(Debug, Clone)]
pub(crate) struct TenantTemplate {
    template: String,
    /// Where `{tenantid}` starts.
    at: usize,
}

impl TenantTemplate {
    pub(crate) fn new(template: &str) -> Option<Self> {
        let at = template.find(PLACEHOLDER)?;
        // One placeholder only.
        if template[at + PLACEHOLDER.len()..].contains(PLACEHOLDER) {
            return None;
        }
        Some(Self {
            template: template.to_owned(),
            at,
        })
    }

    fn prefix(&self) -> &str {
        &self.template[..self.at]
    }

    fn suffix(&self) -> &str {
        &self.template[self.at + PLACEHOLDER.len()..]
    }

    /// Whether `iss` is the template with `tid` put in. No allocation.
    pub(crate) fn issuer_matches(&self, iss: &str, tid: &str) -> bool {
        self.tenant_of(iss) == Some(tid)
    }

    /// The tenant part of an issuer made from this template.
    pub(crate) fn tenant_of<'i>(&self, iss: &'i str) -> Option<&'i str> {
        iss.strip_prefix(self.prefix())?
            .strip_suffix(self.suffix())
            .filter(|tid| !tid.is_empty())
    }

    /// The template with `tid` put in (for error messages).
    pub(crate) fn issuer_for(&self, tid: &str) -> String {
        format!("{}{tid}{}", self.prefix(), self.suffix())
    }

    /// Whether `iss` is an issuer of this template for a tenant `policy`
    /// allows: the callback's RFC 9207 `iss`, which names the tenant.
    pub(crate) fn allows_issuer(&self, iss: &str, policy: &TenantPolicy) -> bool {
        self.tenant_of(iss)
            .is_some_and(|tid| is_guid(tid) && policy.allows(tid))
    }
}

/// Whether a token is an Entra ID version 1.0 token: `ver` 1.0, or an
/// issuer on one of the [`V1_HOSTS`] (`sts.windows.net`,
/// `sts.chinacloudapi.cn`).
pub(crate) fn is_v1_token(iss: &str, ver: Option<&str>) -> bool {
    let on_v1_host = iss.strip_prefix("https://").is_some_and(|rest| {
        V1_HOSTS.iter().any(|host| {
            rest.strip_prefix(host)
                .is_some_and(|path| path.starts_with('/'))
        })
    });
    on_v1_host || ver == Some("1.0")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "3c1a0f6e-0000-4000-8000-000000000001";
    const T2: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn guids_and_templates() {
        assert!(is_guid(T1));
        assert!(is_guid(&T2.to_uppercase()));
        for bad in [
            "",
            "3c1a0f6e00004000800000000000000001",
            "3c1a0f6e-0000-4000-8000-00000000000g",
            "3c1a0f6e-0000-4000-8000-0000000000011",
        ] {
            assert!(!is_guid(bad), "{bad}");
        }
        let t = TenantTemplate::new("https://login.example/{tenantid}/v2.0").unwrap();
        assert!(t.issuer_matches(&format!("https://login.example/{T1}/v2.0"), T1));
        assert!(!t.issuer_matches(&format!("https://login.example/{T1}/v2.0"), T2));
        assert!(!t.issuer_matches(&format!("https://login.example/{T1}/v2.0/"), T1));
        assert!(!t.issuer_matches(&format!("https://login.example/{T1}x/v2.0"), T1));
        assert!(!t.issuer_matches("https://login.example//v2.0", ""));
        assert_eq!(
            t.tenant_of(&format!("https://login.example/{T1}/v2.0")),
            Some(T1)
        );
        assert_eq!(t.tenant_of("https://evil.example/x/v2.0"), None);
        assert_eq!(t.issuer_for(T2), format!("https://login.example/{T2}/v2.0"));
        let only = TenantPolicy::Only(vec![T1.into()]);
        assert!(t.allows_issuer(&format!("https://login.example/{T1}/v2.0"), &only));
        assert!(!t.allows_issuer(&format!("https://login.example/{T2}/v2.0"), &only));
        assert!(t.allows_issuer(
            &format!("https://login.example/{T2}/v2.0"),
            &TenantPolicy::AnyTenant
        ));
        assert!(!t.allows_issuer(
            "https://login.example/not-a-guid/v2.0",
            &TenantPolicy::AnyTenant
        ));
        assert!(TenantTemplate::new("https://l/{tenantid}/{tenantid}").is_none());
        assert!(TenantTemplate::new("https://l/common/v2.0").is_none());
    }

    #[test]
    fn v1_tokens_are_recognised() {
        assert!(is_v1_token(&format!("https://sts.windows.net/{T1}/"), None));
        // China's cloud too.
        assert!(is_v1_token(
            &format!("https://sts.chinacloudapi.cn/{T1}/"),
            None
        ));
        assert!(!is_v1_token(
            &format!("https://sts.chinacloudapi.cn.example/{T1}/"),
            None
        ));
        assert!(is_v1_token("https://x.example", Some("1.0")));
        assert!(!is_v1_token("https://x.example", Some("2.0")));
        assert!(!is_v1_token("https://x.example", None));
    }
}
