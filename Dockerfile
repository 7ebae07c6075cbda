FROM python:latest

WORKDIR /srv/shop
RUN apt-get update && apt-get install -y curl
COPY app/requirements.txt .
RUN pip install -r requirements.txt
COPY app/ .
EXPOSE 8080
CMD ["gunicorn", "-b", "0.0.0.0:8080", "shop:app"]
