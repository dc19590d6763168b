"""FastAPI on uvicorn, as many users write it themselves: one `async def` route, one worker."""
from fastapi import FastAPI, Request

from common import load_predictor

predictor = load_predictor()
app = FastAPI()


@app.post("/iris")
async def iris(request: Request):
    return predictor.predict(await request.json())
