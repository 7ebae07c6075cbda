"""The shop checkout API: a cart total with a Redis cache."""

import os

import redis
from flask import Flask, jsonify

app = Flask(__name__)
cache = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"))


@app.get("/healthz")
def healthz():
    return {"ok": True}


@app.get("/cart/<cart_id>/total")
def total(cart_id: str):
    cached = cache.get(f"total:{cart_id}")
    return jsonify({"cart": cart_id, "total": float(cached or 0)})
