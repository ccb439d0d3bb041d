"""Print each referral event, validated against its published JSON Schema (aiokafka, jsonschema)."""

import asyncio
import json
import os
from pathlib import Path

import jsonschema
from aiokafka import AIOKafkaConsumer

FOLDER = Path(os.environ.get("SCHEMAS", Path(__file__).resolve().parents[1] / "schemas"))
SCHEMAS = {path.stem: json.loads(path.read_text()) for path in FOLDER.glob("*.json")}


async def main() -> None:
    consumer = AIOKafkaConsumer(
        "samverkan.referral.v1",
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        group_id=os.environ.get("GROUP_ID", "example-org.referral-printer"),  # yours, stable
        auto_offset_reset="earliest",  # a new group starts at the beginning of the topic
        enable_auto_commit=False,  # commit after handling: at least once
    )
    await consumer.start()
    seen: set[str] = set()  # events can come twice: dedupe on ce_id (in your database, really)
    try:
        async for record in consumer:
            ce = {key: value.decode(errors="replace") for key, value in record.headers}
            schema = SCHEMAS.get(ce.get("ce_type", ""))  # None: a type you do not know yet
            if schema is not None and ce.get("ce_id") not in seen:
                try:
                    jsonschema.validate(json.loads(record.value), schema)
                    verdict = "valid"
                except (ValueError, jsonschema.ValidationError) as error:
                    verdict = f"invalid:{type(error).__name__}"  # log and alert; do not stop
                print(verdict, ce["ce_type"], (record.key or b"-").decode(), flush=True)
                seen.add(ce.get("ce_id", ""))
            await consumer.commit()
    finally:
        await consumer.stop()


asyncio.run(main())
