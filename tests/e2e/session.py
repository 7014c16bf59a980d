"""A test's conversation with the API: posts that must succeed (or fail as told) and reads
that wait for the last write (read-your-writes through `min_position`)."""


class Session:
    def __init__(self, client):
        self.client = client
        self.position = 0

    def post(self, path, body, status=(200, 201)):
        answer = self.client.post(path, json=body)
        assert answer.status_code in status, (path, answer.text)
        if answer.status_code < 300 and "position" in answer.json():
            self.position = max(self.position, answer.json()["position"])
        return answer.json()

    def get(self, path, **params):
        answer = self.client.get(path, params={**params, "min_position": self.position})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def rep(self, name, level, team="华东一组", region="华东", manager_id=None, hired_on=None):
        return self.post(
            "/reps",
            {
                "name": name,
                "level": level,
                "team": team,
                "region": region,
                "manager_id": manager_id,
                "hired_on": hired_on,
            },
        )["id"]

    def lead(self, company, **extra):
        body = {"company": company, "source": "trade_show", "region": "华东", "industry": "manufacturing", **extra}
        return self.post("/leads", body)
