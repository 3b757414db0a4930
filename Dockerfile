# One image for every Lanner role; docker-compose.yml picks the role by command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY streams streams
COPY projections projections
COPY api api
COPY flows flows
RUN pip install --no-cache-dir ".[data]"
ENV LANNER_API_HOST=0.0.0.0
ENTRYPOINT ["lanner"]
