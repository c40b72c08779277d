// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title TestTokenPausable
/// @notice An ERC-20 whose transfers revert while it is paused, as USDC's do when Circle pauses
///         it or blocklists an address, and whose transfers can be made to cost a set amount of
///         gas (as tokens with hooks or rebasing bookkeeping can). For dev chains and tests only.
/// @dev `mint`, `setPaused` and `setTransferGas` are open to anyone on purpose: this is a test
///      token. Minting works while paused, so a test can pay an address and then find the
///      transfer out refused.
contract TestTokenPausable {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    uint256 public totalSupply;
    bool public paused;
    /// @notice Gas each transfer burns before moving anything (0: none).
    uint256 public transferGas;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
    }

    /// @notice Make every transfer revert (true) or work again (false).
    function setPaused(bool paused_) external {
        paused = paused_;
    }

    /// @notice Make every transfer burn `gas_` gas first (0 turns it off).
    function setTransferGas(uint256 gas_) external {
        transferGas = gas_;
    }

    /// @notice Move `value` base units from the caller to `to`; reverts while paused.
    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    /// @notice Let `spender` move up to `value` base units of the caller's balance.
    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @notice Move `value` base units from `from` to `to` using the caller's allowance.
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "TestTokenPausable: insufficient allowance");
        allowance[from][msg.sender] = allowed - value;
        _transfer(from, to, value);
        return true;
    }

    /// @notice Create `value` new base units for `to`. Open to anyone: test token only.
    function mint(address to, uint256 value) external {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function _transfer(address from, address to, uint256 value) private {
        uint256 burn = transferGas;
        uint256 start = gasleft();
        while (start - gasleft() < burn) {} // runs out of gas when given less than `burn`
        require(!paused, "TestTokenPausable: paused");
        require(to != address(0), "TestTokenPausable: transfer to the zero address");
        uint256 balance = balanceOf[from];
        require(balance >= value, "TestTokenPausable: transfer amount exceeds balance");
        unchecked {
            balanceOf[from] = balance - value;
            balanceOf[to] += value; // cannot overflow: bounded by totalSupply
        }
        emit Transfer(from, to, value);
    }
}
