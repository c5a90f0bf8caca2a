//! Controlled vocabularies: every enumeration a record uses, with its stable snake_case code
//! (what the API and the database carry) and its Chinese label (what people read).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One entry of a vocabulary as the API lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VocabularyEntry {
    pub code: &'static str,
    pub label: &'static str,
}

/// A vocabulary's message for a value it does not have, in Chinese, with every allowed code and
/// its label.
pub trait Vocabulary {
    fn unknown_zh(value: &str) -> String;
}

/// Defines an enumeration whose variants carry a code and a Chinese label. Serde uses the code,
/// so an unknown value is rejected with the list of allowed codes.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => ($code:literal, $label:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $code)] $variant),+
        }

        // The schema is written here rather than derived: the codes are what the wire carries,
        // and the labels say what each means.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let meanings: Vec<String> = [$(format!("`{}` {}", $code, $label)),+].to_vec();
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($code),+]))
                    .description(Some(meanings.join("; ")))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn entries() -> Vec<VocabularyEntry> {
                Self::ALL.iter().map(|v| VocabularyEntry { code: v.code(), label: v.label() }).collect()
            }
        }

        impl $crate::domain::vocab::Vocabulary for $name {
            fn unknown_zh(value: &str) -> String {
                let allowed: Vec<String> = [$(format!("{}（{}）", $code, $label)),+].to_vec();
                format!("`{}` 不是可选的取值；可选：{}", value, allowed.join("、"))
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($code => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} `{}`; expected one of: {}",
                        stringify!($name), other,
                        [$($code),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

pub(crate) use vocabulary;

vocabulary!(
    /// Technical field (技术领域): the national high-tech fields, refined with the city's own
    /// industries (seed items 2-4, 16, 25).
    TechField {
        Ccus => ("ccus", "碳捕集利用与封存(CCUS)与零碳"),
        OilGas => ("oil_gas", "油气勘探开发"),
        PetroleumEquipment => ("petroleum_equipment", "石油装备"),
        Petrochemical => ("petrochemical", "高端化工"),
        NewEnergy => ("new_energy", "新能源与节能"),
        NewMaterials => ("new_materials", "新材料"),
        Biomedicine => ("biomedicine", "生物医药"),
        MarineEquipment => ("marine_equipment", "海洋装备"),
        IntelligentManufacturing => ("intelligent_manufacturing", "智能制造与高端装备"),
        ElectronicInformation => ("electronic_information", "电子信息与人工智能"),
        ModernAgriculture => ("modern_agriculture", "现代农业与盐碱地利用"),
        ResourcesEnvironment => ("resources_environment", "资源与环境"),
        Aerospace => ("aerospace", "航空航天与低空经济"),
        HighTechServices => ("high_tech_services", "高技术服务"),
        Other => ("other", "其他"),
    }
);

vocabulary!(
    /// Need type (需求类型).
    NeedType {
        TechBreakthrough => ("tech_breakthrough", "技术攻关"),
        AchievementIntroduction => ("achievement_introduction", "成果引进"),
        JointRd => ("joint_rd", "联合研发"),
        TechService => ("tech_service", "技术服务"),
        Talent => ("talent", "人才"),
    }
);

vocabulary!(
    /// Cooperation mode (合作方式), used by needs (accepted) and achievements (offered).
    CooperationMode {
        Transfer => ("transfer", "技术转让"),
        LicenseExclusive => ("license_exclusive", "独占许可"),
        LicenseSole => ("license_sole", "排他许可"),
        LicenseOrdinary => ("license_ordinary", "普通许可"),
        LicenseOpen => ("license_open", "开放许可"),
        Equity => ("equity", "作价入股"),
        JointDevelopment => ("joint_development", "合作开发"),
        CommissionedDevelopment => ("commissioned_development", "委托开发"),
        TechService => ("tech_service", "技术服务"),
        TechConsulting => ("tech_consulting", "技术咨询"),
    }
);

vocabulary!(
    /// Achievement type (成果类型).
    AchievementType {
        Patent => ("patent", "专利"),
        SoftwareCopyright => ("software_copyright", "软件著作权"),
        NewProcess => ("new_process", "新工艺"),
        NewProduct => ("new_product", "新产品"),
        NewMaterial => ("new_material", "新材料"),
        NewVariety => ("new_variety", "新品种"),
        Standard => ("standard", "标准"),
        TechnicalSecret => ("technical_secret", "技术秘密"),
        Other => ("other", "其他"),
    }
);

vocabulary!(
    /// Coarse development stage (成熟阶段), recorded beside or instead of a TRL.
    Stage {
        Laboratory => ("laboratory", "实验室"),
        SmallTrial => ("small_trial", "小试"),
        PilotTrial => ("pilot_trial", "中试"),
        SmallBatch => ("small_batch", "小批量"),
        Industrialised => ("industrialised", "产业化"),
    }
);

vocabulary!(
    /// Form of intellectual property (知识产权形式).
    IpForm {
        InventionPatent => ("invention_patent", "发明专利"),
        UtilityModel => ("utility_model", "实用新型专利"),
        DesignPatent => ("design_patent", "外观设计专利"),
        SoftwareCopyright => ("software_copyright", "软件著作权"),
        TechnicalSecret => ("technical_secret", "技术秘密"),
        PlantVariety => ("plant_variety", "植物新品种权"),
        IcLayout => ("ic_layout", "集成电路布图设计"),
        None => ("none", "无"),
    }
);

vocabulary!(
    /// Who may see a need or achievement (可见范围).
    Visibility {
        Public => ("public", "公开(所有登录用户)"),
        Managers => ("managers", "仅技术经理人与本单位"),
        Private => ("private", "仅本单位(不参与匹配)"),
    }
);

vocabulary!(
    /// Life-cycle status of a need or achievement.
    RecordStatus {
        Open => ("open", "征集中/可转化"),
        Closed => ("closed", "已关闭"),
        Withdrawn => ("withdrawn", "已撤回"),
        Expired => ("expired", "已过期"),
    }
);

vocabulary!(
    /// Kind of organisation.
    OrgKind {
        Enterprise => ("enterprise", "企业"),
        University => ("university", "高校"),
        Institute => ("institute", "科研院所"),
        Operator => ("operator", "科技大市场运营机构"),
    }
);

vocabulary!(
    /// Where an organisation stands in the market: one that applied by itself is pending until a
    /// manager approves or rejects it; one an admin created is approved.
    OrgStatus {
        Pending => ("pending", "待审核"),
        Approved => ("approved", "已通过"),
        Rejected => ("rejected", "未通过"),
    }
);

vocabulary!(
    /// Role of a user; decides what the user may do and see.
    Role {
        Enterprise => ("enterprise", "企业用户"),
        University => ("university", "高校/院所用户"),
        Manager => ("manager", "技术经理人"),
        Admin => ("admin", "管理员"),
    }
);

impl Role {
    /// Managers and admins read everything that is not private to another organisation.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Manager | Role::Admin)
    }

    /// The organisation kinds a user of this role may belong to.
    pub fn allowed_org_kinds(self) -> &'static [OrgKind] {
        match self {
            Role::Enterprise => &[OrgKind::Enterprise],
            Role::University => &[OrgKind::University, OrgKind::Institute],
            Role::Manager | Role::Admin => &[OrgKind::Operator],
        }
    }
}

impl OrgKind {
    /// Universities and institutes both own achievements.
    pub fn owns_achievements(self) -> bool {
        matches!(self, OrgKind::University | OrgKind::Institute)
    }
}

/// Technology readiness levels (技术就绪水平), the nine levels of GB/T 22900-2022.
pub const TRL_LABELS: [&str; 9] = [
    "基本原理被发现和阐述",
    "形成技术概念或应用方案",
    "关键功能和特性通过分析与实验验证",
    "实验室环境中的部件或原理样机验证",
    "相关环境中的部件或原理样机验证",
    "相关环境中的系统或分系统原型演示",
    "实际环境中的系统原型演示",
    "实际系统完成并通过试验验证",
    "实际系统通过成功运行得到验证(产业化)",
];

/// The TRL vocabulary as `{level, label}` pairs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrlEntry {
    pub level: u8,
    pub label: &'static str,
}

pub fn trl_entries() -> Vec<TrlEntry> {
    TRL_LABELS.iter().enumerate().map(|(i, label)| TrlEntry { level: i as u8 + 1, label }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_from_str_and_serde() {
        for field in TechField::ALL {
            assert_eq!(field.code().parse::<TechField>().unwrap(), *field);
            let json = serde_json::to_string(field).unwrap();
            assert_eq!(json, format!("\"{}\"", field.code()));
        }
    }

    #[test]
    fn unknown_code_names_the_allowed_ones() {
        let err = "石油".parse::<TechField>().unwrap_err();
        assert!(err.contains("`石油`"), "{err}");
        assert!(err.contains("petroleum_equipment"), "{err}");
    }

    #[test]
    fn every_label_is_chinese() {
        for entry in TechField::entries().iter().chain(CooperationMode::entries().iter()) {
            assert!(entry.label.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{}", entry.label);
        }
    }
}
