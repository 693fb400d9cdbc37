//! Live-tenant behaviour the simulator reproduces (issue 11): model states, tasks that
//! others start, task lists sorted and naming users, `/users/me`, and OAuth token
//! requests as JSON or form, with rotating or fixed refresh tokens and client secrets.

use crate::common::{MODEL, T, advance, assert_envelope, http, one_model, scenario};
use reqwest::StatusCode;
use runwait_core::TaskList;
use serde_json::{Value, json};

const OBJECTS: &str = r#"
processes:
  - {id: "118000000001", name: P, actions: ["117000000001"]}
actions:
  - {id: "117000000001", name: A, duration: 5s}
"#;

fn model_in(state: &str) -> runwait_sim::Scenario {
    let text = one_model(
        "users: [{name: demo@runwait.local, password: demo}]",
        OBJECTS,
    )
    .replace(
        "        name: M\n",
        &format!("        name: M\n        state: {state}\n"),
    );
    scenario(&text)
}

#[tokio::test(start_paused = true)]
async fn model_states_answer_like_anaplan() {
    for (state, code) in [("archived", 422), ("locked", 423), ("no_access", 404)] {
        let t = T::start(model_in(state)).await;
        let tasks = format!("{}/tasks", t.obj("processes", "118000000001"));
        let (status, body) = t.send(t.start_request("processes", "118000000001")).await;
        assert_eq!(status.as_u16(), code, "{state}: {body}");
        assert_envelope(&body, code, "/tasks");
        let (status, body) = t.get(&t.url(&format!("/models/{MODEL}"))).await;
        assert_eq!(status.as_u16(), code, "{state}: {body}");
        let (status, body) = t.get(&tasks).await;
        if state == "no_access" {
            // Anaplan lists no tasks, with 200, for a model the user cannot see.
            assert_eq!(status, StatusCode::OK);
            assert!(TaskList::parse(&body.to_string()).unwrap().tasks.is_empty());
        } else {
            assert_eq!(status.as_u16(), code, "{state}: {body}");
        }
        assert!(t.sim.tasks().is_empty());
    }
}

fn with_others(list_users: bool) -> runwait_sim::Scenario {
    let top = format!(
        "users: [{{name: demo@runwait.local, password: demo}}]\ntask_list_users: {list_users}\nforeign_starts:\n  - {{at: 10s, object: \"118000000001\", by: schedule@runwait.local}}\n  - {{at: 30s, object: \"118000000001\", by: other@runwait.local}}"
    );
    scenario(&one_model(&top, OBJECTS))
}

#[tokio::test(start_paused = true)]
async fn others_start_tasks_at_their_times_and_lists_sort_and_name_them() {
    let t = T::start(with_others(true)).await;
    let tasks = format!("{}/tasks", t.obj("processes", "118000000001"));
    let (_, body) = t.get(&tasks).await;
    assert!(
        body.get("tasks")
            .is_none_or(|v| v.as_array().unwrap().is_empty()),
        "{body}"
    );
    advance(20).await;
    let ours = t.start_task("processes", "118000000001").await;
    advance(20).await;
    let (_, oldest) = t.get(&tasks).await;
    let ids = |v: &Value| -> Vec<String> {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["taskId"].as_str().unwrap().to_owned())
            .collect()
    };
    let oldest = ids(&oldest);
    assert_eq!(oldest.len(), 3);
    assert_eq!(oldest[1], ours, "the schedule's, ours, the other user's");
    let (_, newest) = t.get(&format!("{tasks}?sort=-creationDate")).await;
    let mut reversed = oldest.clone();
    reversed.reverse();
    assert_eq!(ids(&newest), reversed);
    let (_, page) = t
        .get(&format!("{tasks}?sort=-creationDate&offset=1&limit=1"))
        .await;
    assert_eq!(ids(&page), vec![ours.clone()]);
    assert_eq!(page["meta"]["paging"]["totalSize"], 3);

    // The list names who started each task; `/users/me` says who we are.
    let (_, me) = t.get(&t.url("/users/me")).await;
    let me = me["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(me.len(), 32);
    let (_, list) = t.get(&tasks).await;
    let users: Vec<&str> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["userId"].as_str().unwrap())
        .collect();
    assert_eq!(users[1], me);
    assert!(users[0] != me && users[2] != me && users[0] != users[2]);
    let by: Vec<String> = t.sim.tasks().into_iter().map(|s| s.user).collect();
    assert_eq!(
        by,
        [
            "schedule@runwait.local",
            "demo@runwait.local",
            "other@runwait.local"
        ]
    );

    // By default the list does not name users, like Anaplan's published examples.
    let t = T::start(with_others(false)).await;
    advance(40).await;
    let (_, list) = t
        .get(&format!("{}/tasks", t.obj("processes", "118000000001")))
        .await;
    assert!(list["tasks"][0].get("userId").is_none(), "{list}");
}

#[tokio::test(start_paused = true)]
async fn a_foreign_start_must_name_an_object_of_the_scenario() {
    let top = "foreign_starts: [{at: 1s, object: \"118000000009\", by: x}]";
    let err = scenario(&one_model(top, OBJECTS))
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("118000000009"), "{err}");
}

const OAUTH: &str = r#"
users: [{name: demo@runwait.local, password: demo}]
oauth_clients:
  - {client_id: code, user: demo@runwait.local, refresh_token: r0, client_secret: shh}
  - {client_id: device, user: demo@runwait.local, refresh_token: d0, rotate: false}
workspaces: []
"#;

async fn grant(sim: &runwait_sim::Simulator, body: Value, json_body: bool) -> (StatusCode, Value) {
    let url = format!("{}/oauth/token", sim.auth_url());
    let req = if json_body {
        http().post(url).json(&body)
    } else {
        let pairs: Vec<(String, String)> = body
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        http()
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
    };
    let res = req.send().await.unwrap();
    (res.status(), res.json().await.unwrap())
}

#[tokio::test(start_paused = true)]
async fn oauth_takes_json_or_form_with_secrets_and_rotating_or_fixed_tokens() {
    let sim = runwait_sim::Simulator::start(runwait_sim::SimConfig::new(scenario(OAUTH)))
        .await
        .unwrap();
    let code = |token: &str, secret: Option<&str>| {
        let mut b =
            json!({"grant_type": "refresh_token", "client_id": "code", "refresh_token": token});
        if let Some(s) = secret {
            b["client_secret"] = s.into();
        }
        b
    };
    let (status, body) = grant(&sim, code("r0", None), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no secret: {body}");
    assert_eq!(body["error"], "invalid_grant");
    let (status, body) = grant(&sim, code("r0", Some("wrong")), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // JSON, as Anaplan documents it: the refresh token rotates.
    let (status, body) = grant(&sim, code("r0", Some("shh")), true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r1 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, "r0");
    assert_eq!(body["expires_in"], 2100);
    assert_eq!(
        grant(&sim, code("r0", Some("shh")), true).await.0,
        StatusCode::BAD_REQUEST,
        "single use"
    );
    // A form works too.
    let (status, body) = grant(&sim, code(&r1, Some("shh")), false).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A fixed refresh token comes back unchanged and stays valid.
    let device =
        json!({"grant_type": "refresh_token", "client_id": "device", "refresh_token": "d0"});
    for json_body in [true, false, true] {
        let (status, body) = grant(&sim, device.clone(), json_body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["refresh_token"], "d0");
    }
}
