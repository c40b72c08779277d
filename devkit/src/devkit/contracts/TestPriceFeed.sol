// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title TestPriceFeed
/// @notice A Chainlink AggregatorV3Interface stand-in whose answer a test sets: the same
///         `decimals()` and `latestRoundData()` shape the relay reads from a real feed.
contract TestPriceFeed {
    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 4;

    uint80 private _roundId;
    int256 private _answer;
    uint256 private _updatedAt;

    constructor(uint8 decimals_, string memory description_, int256 answer_) {
        decimals = decimals_;
        description = description_;
        _set(answer_, block.timestamp);
    }

    /// @notice Publish a new round with `answer_`, updated at `updatedAt_` (unix seconds).
    function setAnswer(int256 answer_, uint256 updatedAt_) external {
        _set(answer_, updatedAt_);
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return (_roundId, _answer, _updatedAt, _updatedAt, _roundId);
    }

    function _set(int256 answer_, uint256 updatedAt_) private {
        _roundId += 1;
        _answer = answer_;
        _updatedAt = updatedAt_;
    }
}
