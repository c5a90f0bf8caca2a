//! Routes of the needs library (企业需求库): the template of `records`, with the needs' words.

super::records::library_routes! {
    record: crate::domain::need::Need,
    input: crate::domain::need::NeedInput,
    response: crate::app::views::NeedResponse,
    tag: "needs",
    collection: "/needs",
    item: "/needs/{id}",
    action: "/needs/{id}/{action}",
    id: "Need id",
    create_doc: [
        " Post a technical need.",
        "",
        " Enterprise users post for their own organisation; managers post on behalf of an enterprise",
        " (give `org_id`). Universities cannot post needs."
    ],
    created: "Created; `ETag` carries the version, `Location` the address; `possible_duplicates` lists the organisation's needs with a nearly equal title, if any",
    read: "The need; `ETag` carries the version",
    missing: "No such need, or not visible to you",
    list_doc: " List the needs you may see, newest first.",
    read_doc: " Read one need.",
    update_doc: " Change some fields of a need.",
    status_doc: " Close, withdraw or reopen a need.",
    create: create_need,
    list: list_needs,
    get: get_need,
    update: update_need,
    status: change_need_status,
}
