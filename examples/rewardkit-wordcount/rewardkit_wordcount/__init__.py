"""The README's example plugin: a complete third-party environment in one module."""

import rewardkit as rk


class WordCount(rk.Environment):
    name = "wordcount"

    class Config(rk.EnvConfig):
        target: int = 50

    def dataset(self, split):
        for i, topic in enumerate(["tea", "rivers", "chess"]):
            yield rk.Sample(
                id=f"{split}-{i}",
                prompt=[rk.user(f"Write {self.config.target} words on {topic}.")],
                answer=self.config.target,
            )

    async def score(self, sample, completion):
        n = len(completion.split())
        return rk.RewardResult(
            score=max(0.0, 1 - abs(n - sample.answer) / sample.answer), components={"words": n}
        )

    def reference_completion(self, sample):  # what earns the top score: `rewardkit check` scores it
        return " ".join(["word"] * sample.answer)


@rk.hookimpl
def register_environments(register):
    register(WordCount)
