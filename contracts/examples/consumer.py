"""Print each referral event, validated against its published JSON Schema (aiokafka, jsonschema)."""

import asyncio
import json
import os
from pathlib import Path

import jsonschema
from aiokafka import AIOKafkaConsumer

SCHEMAS = Path(os.environ.get("SCHEMAS", Path(__file__).resolve().parents[1] / "schemas"))


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
            ce = {key: value.decode() for key, value in record.headers}
            schema = SCHEMAS / f"{ce['ce_type']}.json"
            if ce["ce_id"] not in seen and schema.exists():  # skip types you do not know yet
                try:
                    jsonschema.validate(json.loads(record.value), json.loads(schema.read_text()))
                    verdict = "valid"
                except (ValueError, jsonschema.ValidationError) as error:
                    verdict = f"invalid:{type(error).__name__}"  # log and alert; do not stop
                print(verdict, ce["ce_type"], record.key.decode(), flush=True)
                seen.add(ce["ce_id"])
            await consumer.commit()
    finally:
        await consumer.stop()


asyncio.run(main())
