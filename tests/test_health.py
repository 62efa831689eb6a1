"""/healthz: the operator's probe."""


def test_health_reports_database_and_redis(client, redis):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_health_reports_a_dead_redis(app, client):
    from redis import Redis

    saved = app.extensions.get("hiremail_redis")
    app.extensions["hiremail_redis"] = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    try:
        response = client.get("/healthz")
    finally:
        if saved is None:
            app.extensions.pop("hiremail_redis")
        else:
            app.extensions["hiremail_redis"] = saved
    assert response.status_code == 503
    assert response.get_json()["redis"].startswith("error")
    assert response.get_json()["database"] == "ok"
