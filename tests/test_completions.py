"""One ``completion_text`` (issue 21 item 3): the reward model's TRL reward and the tuning rewards read a
conversational completion the same way -- the assistant's messages, joined."""

from __future__ import annotations

from rlopt.completions import completion_text

MULTI = [{"role": "assistant", "content": "Save 20% "}, {"role": "tool", "content": "price checked"},
         {"role": "assistant", "content": "on the Trail Shoe"}]


def test_the_assistant_messages_are_the_copy():
    assert completion_text(MULTI) == "Save 20% on the Trail Shoe"  # not the last message only
    assert completion_text([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]) == "ab"
    assert completion_text("plain") == "plain" and completion_text(7) == "7"


def test_every_reward_uses_the_one_definition():
    import reward_models.scoring as scoring
    import rlopt.tuning.rewards as rewards
    import rlopt.tuning.shown as shown

    assert scoring.completion_text is rewards.completion_text is shown.completion_text is completion_text


def test_shown_copy_of_a_conversational_completion():
    from rlopt.data.placements import placements_from_mapping
    from rlopt.tuning.shown import shown_copies

    placements = placements_from_mapping({"push": {"max_chars": 60, "slots": 1, "examination": [1.0]}})
    assert shown_copies([MULTI, "Save 20% on the Trail Shoe"], {"placement": ["push", "push"]}, placements) == [
        "Save 20% on the Trail Shoe", "Save 20% on the Trail Shoe"]
