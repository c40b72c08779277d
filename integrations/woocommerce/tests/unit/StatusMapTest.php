<?php
/**
 * The mapping from an invoice's state to one action on its order, and its rules.
 *
 * @package Relay_Payments\Tests
 */

// phpcs:disable WordPress.NamingConventions, Squiz.Commenting

final class StatusMapTest extends Relay_Test_Case {

	private static function invoice( $status, $exception = null ) {
		return array(
			'id'        => 'inv_1',
			'status'    => $status,
			'exception' => $exception,
			'payments'  => array(
				array( 'tx_hash' => '0xaaa' ),
				array( 'tx_hash' => '0xbbb' ),
			),
		);
	}

	/** @return array<string, array{0: string, 1: ?string, 2: string, 3: bool, 4: string}> */
	public function mapping(): array {
		return array(
			'processing holds a pending order'          => array( 'processing', null, 'pending', true, 'on-hold' ),
			'processing holds a failed order'           => array( 'processing', null, 'failed', false, 'on-hold' ),
			'processing on on-hold only notes'          => array( 'processing', null, 'on-hold', true, 'note' ),
			'late payment confirming holds'             => array( 'processing', 'paid_late', 'failed', true, 'on-hold' ),
			'settled completes pending'                 => array( 'settled', null, 'pending', true, 'complete' ),
			'settled completes on-hold'                 => array( 'settled', null, 'on-hold', true, 'complete' ),
			'settled late reopens failed'               => array( 'settled', 'paid_late', 'failed', false, 'complete' ),
			'settled reopens a cancelled order'         => array( 'settled', null, 'cancelled', false, 'complete' ),
			'expired unpaid fails pending'              => array( 'expired', null, 'pending', true, 'failed' ),
			'expired unpaid leaves failed'              => array( 'expired', null, 'failed', true, 'none' ),
			'expired older invoice leaves pending'      => array( 'expired', null, 'pending', false, 'none' ),
			'expired unpaid leaves on-hold'             => array( 'expired', null, 'on-hold', true, 'none' ),
			'expired partial holds'                     => array( 'expired', 'paid_partial', 'pending', true, 'on-hold' ),
			'expired partial of older invoice notes'    => array( 'expired', 'paid_partial', 'pending', false, 'note' ),
			'invalid fails pending'                     => array( 'invalid', null, 'pending', true, 'failed' ),
			'invalid fails on-hold'                     => array( 'invalid', null, 'on-hold', true, 'failed' ),
			'invalid older invoice notes'               => array( 'invalid', null, 'on-hold', false, 'note' ),
			'new changes nothing'                       => array( 'new', null, 'pending', true, 'none' ),
			'new with partial payment notes'            => array( 'new', 'paid_partial', 'pending', true, 'note' ),
			'unknown status changes nothing'            => array( 'refunded', null, 'pending', true, 'none' ),
			'processing leaves a cancelled order'       => array( 'processing', null, 'cancelled', true, 'none' ),
			'draft checkout is not touched'             => array( 'settled', null, 'checkout-draft', true, 'none' ),
		);
	}

	/** @dataProvider mapping */
	public function test_mapping( $status, $exception, $order_status, $is_current, $action ) {
		$choice = Relay_Payments_Status_Map::decide( self::invoice( $status, $exception ), $order_status, $is_current );
		$this->assertSame( $action, $choice['action'] );
		$this->assertSame( 'none' === $action, '' === $choice['note'] );
	}

	public function test_settled_pays_with_the_last_payments_hash_and_says_so() {
		$choice = Relay_Payments_Status_Map::decide( self::invoice( 'settled' ), 'pending', true );
		$this->assertSame( '0xbbb', $choice['transaction_id'] );
		$this->assertStringContainsString( '0xbbb', $choice['note'] );
		$late = Relay_Payments_Status_Map::decide( self::invoice( 'settled', 'paid_late' ), 'failed', true );
		$this->assertStringContainsString( 'paid late', $late['note'] );
	}

	/** @return array<string, array{0: string}> */
	public function paid_statuses(): array {
		return array(
			'processing' => array( 'processing' ),
			'completed'  => array( 'completed' ),
			'refunded'   => array( 'refunded' ),
		);
	}

	/** @dataProvider paid_statuses */
	public function test_a_paid_order_is_never_moved( $order_status ) {
		foreach ( array( 'new', 'processing', 'settled', 'expired', 'invalid' ) as $status ) {
			foreach ( array( null, 'paid_partial', 'paid_over', 'paid_late' ) as $exception ) {
				foreach ( array( true, false ) as $current ) {
					$action = Relay_Payments_Status_Map::decide( self::invoice( $status, $exception ), $order_status, $current )['action'];
					$this->assertContains( $action, 'invalid' === $status ? array( 'note' ) : array( 'none' ), "$status/$exception on $order_status" );
				}
			}
		}
	}
}
