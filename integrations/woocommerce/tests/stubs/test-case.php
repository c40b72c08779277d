<?php
/**
 * Base test case: a clean shop, the gateway configured against the fake relay.
 *
 * @package Relay_Payments\Tests
 */

// phpcs:disable WordPress.NamingConventions, Squiz.Commenting

abstract class Relay_Test_Case extends \PHPUnit\Framework\TestCase {
	/** @var Fake_Relay */
	protected $relay;

	protected function setUp(): void {
		WP_Test_State::reset();
		WC_Test_State::reset();
		Relay_Payments_Refunds::reset();
		$this->relay = ( new Fake_Relay() )->install();
		WP_Test_State::$options['woocommerce_relay_settings'] = array(
			'enabled'     => 'yes',
			'title'       => 'Pay with crypto',
			'description' => 'ETH or stablecoins',
			'relay_url'   => Fake_Relay::URL,
			'store'       => $this->relay->store,
			'api_token'   => $this->relay->token,
		);
	}

	protected function order( $id ) {
		return wc_get_order( $id );
	}

	/** @return string[] The texts of the order's notes. */
	protected function notes( $order_id ) {
		return array_column( WC_Test_State::$notes[ $order_id ], 'note' );
	}

	/** An order of this gateway that opened an invoice through process_payment; answers [order id, invoice id]. */
	protected function checked_out_order( array $row = array() ) {
		$order_id = WC_Test_State::add_order( $row );
		$result   = ( new Relay_Payments_Gateway() )->process_payment( $order_id );
		$this->assertSame( 'success', $result['result'] );
		return array( $order_id, $this->order( $order_id )->get_meta( '_relay_invoice_id' ) );
	}

	protected function handler() {
		return new Relay_Payments_Callback( new Relay_Payments_Client( Relay_Payments_Settings::load() ), $this->relay->store );
	}

	/** POST an event for the invoice as the relay would (the body is only a hint). */
	protected function post_event( $type, array $data ) {
		$body = json_encode(
			array(
				'type'      => $type,
				'timestamp' => 1767261600,
				'data'      => $data,
			)
		);
		return $this->handler()->handle( 'POST', $body );
	}
}
