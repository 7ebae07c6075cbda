FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /api ./cmd/api

FROM gcr.io/distroless/static:nonroot
COPY --from=build /api /api
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/api"]
