//! Routes of the achievements library (高校成果库): the template of `records`, with the
//! achievements' words.

super::records::library_routes! {
    record: crate::domain::achievement::Achievement,
    input: crate::domain::achievement::AchievementInput,
    response: crate::app::views::AchievementResponse,
    tag: "achievements",
    collection: "/achievements",
    item: "/achievements/{id}",
    action: "/achievements/{id}/{action}",
    id: "Achievement id",
    create_doc: [
        " Upload a research achievement.",
        "",
        " University users upload for their own university or institute; managers upload on behalf of",
        " one (give `org_id`). Enterprises cannot upload achievements."
    ],
    created: "Created; `ETag` carries the version, `Location` the address; `possible_duplicates` lists the organisation's achievements with a nearly equal title, if any",
    read: "The achievement; `ETag` carries the version",
    missing: "No such achievement, or not visible to you",
    list_doc: " List the achievements you may see, newest first.",
    read_doc: " Read one achievement.",
    update_doc: " Change some fields of an achievement.",
    status_doc: " Close, withdraw or reopen an achievement.",
    create: create_achievement,
    list: list_achievements,
    get: get_achievement,
    update: update_achievement,
    status: change_achievement_status,
}
