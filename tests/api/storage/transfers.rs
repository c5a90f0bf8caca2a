//! The transfer library: signing moves the docking and creates its transfer in one write;
//! registration numbers are unique; versioned updates; listings and the statistics queries.

use crate::helpers::now;
use crate::helpers::write;
use chrono::NaiveDate;
use techmarket::domain::docking::{DockingState, EventKind};
use techmarket::domain::new_id;
use techmarket::domain::stats::{Dimension, StatsFilter, StatsLibrary};
use techmarket::domain::transfer::{Defaults, Transfer, TransferContent, TransferInput};
use techmarket::storage::{StoreError, TransferQuery};

use super::dockings::{docking, event, pair};
use crate::helpers::spawn_store;

pub(crate) fn transfer(
    d: &techmarket::domain::docking::Docking,
    amount: &str,
    signed_on: &str,
    registration: Option<&str>,
) -> Transfer {
    let input: TransferInput = serde_json::from_value(serde_json::json!({
        "contract_type": "transfer",
        "amount": amount,
        "signed_on": signed_on,
        "registration_number": registration,
    }))
    .unwrap();
    let defaults = Defaults { landing_enterprise: "东营落地企业", landing_region: "370502" };
    let content = TransferContent::parse(&input, &defaults, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()).unwrap();
    let at = now();
    Transfer {
        id: new_id(),
        docking_id: d.id.clone(),
        need_id: d.need_id.clone(),
        achievement_id: d.achievement_id.clone(),
        need_org_id: d.need_org_id.clone(),
        achievement_org_id: d.achievement_org_id.clone(),
        manager_id: d.manager_id.clone(),
        field: d.field,
        content,
        created_by: None,
        created_at: at,
        updated_at: at,
        version: 1,
    }
}

#[tokio::test]
async fn signing_writes_the_docking_and_its_transfer_together_or_neither() {
    let (store, _dir) = spawn_store().await;
    let (n, a) = pair(&store, "戊").await;
    let (n2, a2) = pair(&store, "己").await;
    let d = docking(&n, &a, DockingState::Negotiating, 0.8);
    let d2 = docking(&n2, &a2, DockingState::Negotiating, 0.8);
    for x in [&d, &d2] {
        write(store.as_ref(), async |tx| tx.create_docking(x, &event(x, EventKind::Created, None, ""), false).await)
            .await
            .unwrap();
    }
    let mut signed = d.clone();
    signed.state = DockingState::Signed;
    let t = transfer(&d, "120.50", "2026-11-20", Some("2026370502000123"));
    let stored =
        sign(store.as_ref(), &signed, &event(&d, EventKind::Transition, Some(DockingState::Signed), "签约"), &t)
            .await
            .unwrap();
    assert_eq!((stored.state, stored.version), (DockingState::Signed, 2));
    assert_eq!(store.get_transfer(&t.id).await.unwrap().unwrap(), t);

    // The same registration number on another contract: neither the transfer nor the signing
    // is written.
    let mut signed2 = d2.clone();
    signed2.state = DockingState::Signed;
    let t2 = transfer(&d2, "80", "2026-11-21", Some("2026370502000123"));
    let err = sign(store.as_ref(), &signed2, &event(&d2, EventKind::Transition, None, ""), &t2).await.unwrap_err();
    assert!(matches!(err, StoreError::UniqueViolation { .. }), "{err:?}");
    assert!(store.get_transfer(&t2.id).await.unwrap().is_none());
    assert_eq!(store.get_docking(&d2.id).await.unwrap().unwrap().state, DockingState::Negotiating);
    assert_eq!(store.docking_events(&d2.id).await.unwrap().len(), 1, "no event of the refused signing");
}

#[tokio::test]
async fn transfers_update_on_their_version_and_list_by_signing_date() {
    let (store, _dir) = spawn_store().await;
    let mut transfers = Vec::new();
    for (tag, amount, signed_on) in
        [("庚", "100", "2026-10-05"), ("辛", "250.25", "2026-11-10"), ("壬", "30", "2026-11-28")]
    {
        let (n, a) = pair(&store, tag).await;
        let d = docking(&n, &a, DockingState::Negotiating, 0.8);
        write(store.as_ref(), async |tx| tx.create_docking(&d, &event(&d, EventKind::Created, None, ""), false).await)
            .await
            .unwrap();
        let mut signed = d.clone();
        signed.state = DockingState::Signed;
        let t = transfer(&d, amount, signed_on, None);
        sign(store.as_ref(), &signed, &event(&d, EventKind::Transition, Some(DockingState::Signed), ""), &t)
            .await
            .unwrap();
        transfers.push(t);
    }
    let mut changed = transfers[0].clone();
    changed.content.landing_enterprise = "东营另一家企业".into();
    let stored = write(store.as_ref(), async |tx| tx.update_transfer(&changed, now()).await).await.unwrap();
    assert_eq!((stored.version, stored.content.landing_enterprise.as_str()), (2, "东营另一家企业"));
    assert!(matches!(
        write(store.as_ref(), async |tx| tx.update_transfer(&changed, now()).await).await,
        Err(StoreError::VersionConflict { current: 2 })
    ));

    let ids = |q: TransferQuery| {
        let store = store.clone();
        async move { store.list_transfers(&q).await.unwrap().items.into_iter().map(|t| t.id).collect::<Vec<_>>() }
    };
    let all = ids(TransferQuery { limit: 10, ..Default::default() }).await;
    assert_eq!(
        all,
        [transfers[2].id.clone(), transfers[1].id.clone(), transfers[0].id.clone()],
        "newest signing first"
    );
    let november = StatsFilter {
        from: NaiveDate::from_ymd_opt(2026, 11, 1),
        to: NaiveDate::from_ymd_opt(2026, 11, 30),
        ..Default::default()
    };
    let in_november = ids(TransferQuery { filter: november.clone(), limit: 10, ..Default::default() }).await;
    assert_eq!(in_november, [transfers[2].id.clone(), transfers[1].id.clone()]);
    let party =
        ids(TransferQuery { party_org: Some(transfers[1].need_org_id.clone()), limit: 10, ..Default::default() }).await;
    assert_eq!(party, [transfers[1].id.clone()]);

    // Statistics read the same rows: two transfers signed in November, one docking each.
    let counted = store.count_records(StatsLibrary::Transfers, None, &november).await.unwrap();
    assert_eq!(counted, [("all".to_string(), 2)]);
    let by_field = store.count_records(StatsLibrary::Transfers, Some(Dimension::Field), &november).await.unwrap();
    assert_eq!(by_field.iter().map(|r| r.1).sum::<i64>(), 2);
    let facts = store.docking_facts(&StatsFilter::default()).await.unwrap();
    assert_eq!(facts.len(), 3);
    assert_eq!(facts.iter().filter(|f| f.signed_on.is_some()).count(), 3);
    let needs = store.count_records(StatsLibrary::Needs, None, &StatsFilter::default()).await.unwrap();
    assert_eq!(needs[0].1, 3);
}

/// Signs a docking as the application does: its new state, its event and its transfer in one
/// transaction.
async fn sign(
    store: &dyn techmarket::storage::Store,
    docking: &techmarket::domain::docking::Docking,
    event: &techmarket::domain::docking::DockingEvent,
    transfer: &techmarket::domain::transfer::Transfer,
) -> techmarket::storage::StoreResult<techmarket::domain::docking::Docking> {
    write(store, async |tx| {
        let stored = tx.update_docking(docking, event).await?;
        tx.insert_transfer(transfer).await?;
        Ok(stored)
    })
    .await
}
