# llmgenie:ignore LG-DOCKER-004
FROM python:3.12-slim
# why: the base image is rebuilt nightly on purpose
# llmgenie:ignore LG-DOCKER-002
FROM ubuntu:latest
RUN apt-get update && apt-get install -y --no-install-recommends jq && rm -rf /var/lib/apt/lists/*
# llmgenie:ignore LG-DOCKER-003
ADD config.json \
    /etc/app/
ADD settings.json /etc/app/
USER app
