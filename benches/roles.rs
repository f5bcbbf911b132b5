//! Role mapping: 200 groups against 10,000 rows.
//!
//! Run: `cargo bench --bench roles`

use criterion::{Criterion, criterion_group, criterion_main};
use oidc_login::{RoleMapping, RoleMappingTable, Source};

fn bench(c: &mut Criterion) {
    let rows = (0..10_000).map(|i| {
        RoleMapping::new(
            format!("Group {i}"),
            Source::OpenIdConnect,
            format!("{i:08x}-9f2a-47a2-a410-993f2a37876b"),
            [format!("role-{}", i % 40)],
        )
    });
    let table = RoleMappingTable::from_rows(rows);
    // 200 groups: half of them mapped, half unknown to the table.
    let groups: Vec<String> = (0..200)
        .map(|i| {
            if i % 2 == 0 {
                format!("{:08x}-9f2a-47a2-a410-993f2a37876b", i * 37)
            } else {
                format!("{i:08x}-0000-0000-0000-000000000000")
            }
        })
        .collect();
    c.bench_function("roles/200_groups_x_10000_rows", |b| {
        b.iter(|| {
            table.roles_for(
                Source::OpenIdConnect,
                Some("3c1a0f6e-0000-4000-8000-000000000001"),
                groups.iter().map(String::as_str),
            )
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
