FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY survey ./survey
COPY forms ./forms
COPY analysis ./analysis
RUN pip install --no-cache-dir . && useradd --system --home /app sipas
USER sipas
EXPOSE 8000
CMD ["sipas", "serve", "--bind", "0.0.0.0:8000"]
